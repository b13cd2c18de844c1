//! `thematic import`: work done in other tools, brought into a study.
//!
//! - `qdc`: a REFI-QDA codebook (from NVivo, ATLAS.ti, MAXQDA, QualCoder or
//!   `thematic export qdc`) as a TOML codebook a study can name: codes,
//!   hierarchy, descriptions, and dictionary terms where it carries them.
//! - `qdpx`: a REFI-QDA project into a study (a new one, or one that has
//!   strategies of its own): its text sources as transcripts, its codebook,
//!   its cases and variables as participants, each person's codings as
//!   a coding stage of strategy `coder`, so that `thematic agree` can set an
//!   automatic coder beside a human one, and its notes as memos.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use thematic_config::{SpeakerAs, StudyConfig, CONFIG_FILE};
use thematic_formats::{decode_as_written, decode_text};
use thematic_model::{Code, MemoAbout, MEMOS_FOLDER, PARTICIPANT_ROLE};
use thematic_pipeline::{document_name, Decided, DecisionsFile, MemoSubjects, PREAMBLE_ROLE};
use thematic_refi::{read_codebook, read_qdpx, slug, ImportedNote, ImportedProject, NoteAbout};
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

use crate::diagnostics::{count, Diagnostics};
use crate::files::{load_codebook, sha256_hex, write_atomic};
use crate::plan::{is_toml, plan_folder, transcript_matcher, Plan};
use crate::reading::analysed_text;

/// A TOML codebook as the import writes it.
#[derive(Serialize)]
struct Book<'a> {
    codes: &'a [Code],
}

/// A TOML codebook of `codes`, headed by where it came from.
fn codebook_toml(codes: &[Code], from: &str) -> Result<String> {
    let book = Book { codes };
    Ok(format!(
        "{IMPORTED_CODEBOOK}{from} by thematic. Add `terms` to a code for the dictionary strategy.\n\n{}",
        toml::to_string(&book).context("writing the codebook as TOML")?
    ))
}

/// A REFI-QDA codebook (`.qdc`) written as a TOML codebook at `output`;
/// returns how many codes it has, and how many of them have no dictionary terms.
pub fn import_codebook(file: &Path, output: &Path) -> Result<(usize, usize)> {
    let bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let text = decode_as_written(&bytes).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let codes = read_codebook(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let without_terms = codes.iter().filter(|c| c.terms.is_empty()).count();
    write_atomic(output, codebook_toml(&codes, &file.display().to_string())?.as_bytes())?;
    Ok((codes.len(), without_terms))
}

/// What an import of a project brought into a study.
pub struct Imported {
    /// The tool the project says made it.
    pub origin: Option<String>,
    pub sources: usize,
    pub codes: usize,
    pub cases: usize,
    pub variables: usize,
    /// Each person who coded: their stage, their codings file and how many codings.
    pub coders: Vec<(String, String, usize)>,
    /// Sets of codes the project had, not imported.
    pub sets: usize,
    /// How many of the project's notes are memos of the study now (written,
    /// or there already).
    pub notes: usize,
    /// The memo files they are in, with what each is about.
    pub memos: Vec<(String, MemoAbout)>,
    /// Two coders worth comparing next, as `--coders` takes them.
    pub pair: Option<String>,
}

/// A source of the project as a transcript of the study.
struct Placed {
    /// Index into the project's sources.
    source: usize,
    id: String,
    /// The SHA-256 of the text as the study reads it; empty when the study
    /// redacts the text, as its codings' positions would not fit then.
    hash: String,
    /// Written by this import (not a transcript the study had already).
    new: bool,
}

/// A REFI-QDA project (`.qdpx`) into the study in `dir`, new or existing
/// (see the module's documentation). Problems with parts of the project go
/// to `diagnostics`; an error leaves the study as it was.
pub fn import_project(file: &Path, dir: &Path, diagnostics: &mut Diagnostics) -> Result<Imported> {
    let shown = file.display().to_string();
    let bytes = fs::read(file).with_context(|| format!("reading {shown}"))?;
    let project = read_qdpx(&bytes).map_err(|e| anyhow!("{shown}: {e}"))?;
    for warning in &project.warnings {
        diagnostics.warn(format!("{shown}: {warning}"));
    }
    for skipped in &project.skipped {
        diagnostics.fail(format!("{shown}: {skipped}"));
    }

    let config_path = dir.join(CONFIG_FILE);
    let existing = match config_path.exists() {
        // The study as it is decides what the import adds (names taken, who a
        // transcript is with, redaction); its own warnings are not this command's.
        true => Some(plan_folder(dir, &mut Diagnostics::quiet())?),
        false => None,
    };
    let config_text = match &existing {
        Some(study) => study.config.text.clone(),
        None => new_config(&project, &shown),
    };
    let mut document: DocumentMut = config_text
        .parse()
        .with_context(|| format!("reading {}", config_path.display()))?;
    let config = StudyConfig::parse(&config_path.display().to_string(), &config_text)?;
    let mut files: Vec<(PathBuf, String)> = Vec::new();

    let placed = place_sources(
        &project,
        dir,
        existing.as_ref(),
        &config,
        &shown,
        &mut files,
        diagnostics,
    )?;
    add_participants(
        &project,
        &placed,
        dir,
        existing.as_ref(),
        &mut document,
        &mut files,
        diagnostics,
    )?;
    let codebook = add_codebook(&project, dir, &config, &mut document, &mut files, &shown, diagnostics)?;
    let stages = add_coders(
        &project,
        &placed,
        dir,
        &config,
        existing.as_ref(),
        &codebook,
        &mut document,
        &mut files,
    )?;
    let (notes, memos) = add_memos(
        &project,
        &placed,
        dir,
        existing.as_ref(),
        &shown,
        &mut files,
        diagnostics,
    );

    let new_text = document.to_string();
    StudyConfig::parse(&config_path.display().to_string(), &new_text)
        .and_then(|c| c.check_references())
        .map_err(|e| anyhow!("the import would leave {CONFIG_FILE} invalid, so nothing was written: {e}"))?;
    for (path, contents) in &files {
        write_atomic(path, contents.as_bytes())?;
    }
    write_atomic(&config_path, new_text.as_bytes())?;

    // The study as imported must plan: a problem is shown now, not at the next run.
    let study = plan_folder(dir, diagnostics)?;
    let coders: Vec<&str> = stages.iter().map(|(stage, _, _)| stage.as_str()).collect();
    let others: Vec<&str> = study
        .coding_stages()
        .map(|s| s.name.as_str())
        .filter(|name| !coders.contains(name))
        .collect();
    let pair = match (coders.as_slice(), others.first()) {
        ([coder, ..], Some(other)) => Some(format!("{other},{coder}")),
        ([first, second, ..], None) => Some(format!("{first},{second}")),
        _ => None,
    };
    Ok(Imported {
        origin: project.origin.clone(),
        sources: placed.len(),
        codes: project.codes.len(),
        cases: project.cases.len(),
        variables: project.variables.len(),
        coders: stages,
        sets: project.sets,
        notes,
        memos,
        pair,
    })
}

/// Where the import puts a note on the study that names no place of its own.
const IMPORTED_MEMOS: &str = "imported";

/// A memo as the import writes it: its file, what it is about, and the
/// notes it holds (name and text).
struct MemoOut<'p> {
    file: String,
    about: MemoAbout,
    notes: Vec<(&'p str, Cow<'p, str>)>,
}

/// The project's notes as memos of the study, each where a memo on what it
/// is about is kept (`MemoSubjects::file_of`): a code's by the id the import
/// gave the code, a source's by the transcript the source is. A note thematic
/// exported from a memo file that still holds its text is there already. A
/// note on the study goes back to the file thematic exported it from where
/// that is free and a memo on the study (the journal), else to
/// `memos/imported/NAME.md`; a note on a set (sets are not imported as
/// themes) or on a source that was left out is a memo on the study whose
/// text says first what it was on. Notes on one thing share its file, each
/// under a heading of its name. A memo file is written only where none is or
/// it holds the same text: otherwise its notes are reported and left out.
/// Returns how many notes are memos now, and the memo files they are in.
fn add_memos(
    project: &ImportedProject,
    placed: &[Placed],
    dir: &Path,
    existing: Option<&Plan>,
    shown: &str,
    files: &mut Vec<(PathBuf, String)>,
    diagnostics: &mut Diagnostics,
) -> (usize, Vec<(String, MemoAbout)>) {
    // What the study will have for memos to be about, once imported.
    let mut codes: BTreeSet<&str> = project.codes.iter().map(|c| c.id.as_str()).collect();
    let mut transcripts: BTreeSet<&str> = placed.iter().map(|p| p.id.as_str()).collect();
    let mut themes: Vec<&str> = Vec::new();
    if let Some(study) = existing {
        codes.extend(study.codes.iter().map(|c| c.id.as_str()));
        transcripts.extend(study.transcripts.iter().map(|(id, _)| id.as_str()));
        themes = study
            .config
            .all_themes()
            .iter()
            .map(|t| t.id.get_ref().as_str())
            .collect();
    }
    let (codes, transcripts): (Vec<&str>, Vec<&str>) = (codes.into_iter().collect(), transcripts.into_iter().collect());
    let subjects = MemoSubjects {
        codes: &codes,
        themes: &themes,
        transcripts: &transcripts,
    };

    let mut in_study: Vec<(String, MemoAbout)> = Vec::new();
    let mut memos: Vec<MemoOut> = Vec::new();
    for note in &project.notes {
        // A note exported from a memo that still holds its text: nothing to add.
        if let Some(file) = note.file.as_deref().filter(|file| is_memo_file(file)) {
            if memo_on_disk(dir, file).is_some_and(|on_disk| on_disk.as_deref() == Some(note.text.as_str())) {
                in_study.push((file.to_string(), subjects.about(file).unwrap_or(MemoAbout::Study)));
                continue;
            }
        }
        let (about, text) = memo_of(note, project, placed);
        let file = match &about {
            MemoAbout::Study => study_memo_file(note, &text, dir, &subjects, &memos),
            about => subjects.file_of(about),
        };
        match memos.iter_mut().find(|memo| memo.file == file) {
            Some(memo) => memo.notes.push((note.name.as_str(), text)),
            None => memos.push(MemoOut {
                file,
                about,
                notes: vec![(note.name.as_str(), text)],
            }),
        }
    }
    let mut notes = in_study.len();
    for memo in memos {
        let text = match memo.notes.as_slice() {
            [(_, text)] => text.to_string(),
            several => several
                .iter()
                .map(|(name, text)| format!("## {name}\n\n{}\n", text.trim_end()))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        match memo_on_disk(dir, &memo.file) {
            None => files.push((dir.join(&memo.file), text)),
            Some(Some(same)) if same == text => {}
            Some(_) => {
                let names: Vec<String> = memo.notes.iter().map(|(name, _)| format!("`{name}`")).collect();
                diagnostics.fail(format!(
                    "{shown}: {} {} on {}: {} already holds another text; not imported (add it there by hand)",
                    if names.len() == 1 { "note" } else { "notes" },
                    names.join(", "),
                    memo.about,
                    memo.file
                ));
                continue;
            }
        }
        notes += memo.notes.len();
        in_study.push((memo.file, memo.about));
    }
    (notes, in_study)
}

/// What a note is about in the study, and its text as a memo: a note on
/// something the study does not have says first what that was.
fn memo_of<'p>(note: &'p ImportedNote, project: &'p ImportedProject, placed: &[Placed]) -> (MemoAbout, Cow<'p, str>) {
    let as_written = Cow::Borrowed(note.text.as_str());
    match &note.about {
        NoteAbout::Code(code) => (MemoAbout::Code(project.codes[*code].id.clone()), as_written),
        NoteAbout::Source(source) => match placed.iter().find(|place| place.source == *source) {
            Some(place) => (MemoAbout::Transcript(place.id.clone()), as_written),
            None => {
                let source = &project.sources[*source].name;
                let on = format!("the source {source:?}, which was not imported");
                (MemoAbout::Study, Cow::Owned(noted_on(&on, &note.text)))
            }
        },
        NoteAbout::Set(set) => (
            MemoAbout::Study,
            Cow::Owned(noted_on(&format!("the set {set:?}"), &note.text)),
        ),
        NoteAbout::Study => (MemoAbout::Study, as_written),
    }
}

/// A note's text headed by what, in the project it came from, it was on.
fn noted_on(on: &str, text: &str) -> String {
    format!("*A note on {on} in the imported project.*\n\n{text}")
}

/// The file of a note on the study: the memo file thematic exported it from
/// where that is a memo on the study (the journal) and free, else
/// `memos/imported/NAME.md` (`NAME-2.md`, … where taken); free meaning no
/// other memo of this import goes there and no file is there, or one that
/// holds `text` already.
fn study_memo_file(note: &ImportedNote, text: &str, dir: &Path, subjects: &MemoSubjects, memos: &[MemoOut]) -> String {
    let exported_from = note
        .file
        .clone()
        .filter(|file| is_memo_file(file) && subjects.about(file) == Ok(MemoAbout::Study));
    // File systems take names of 255 bytes; a slug is mostly ASCII.
    let stem: String = slug(&note.name)
        .unwrap_or_else(|| "note".into())
        .chars()
        .take(100)
        .collect();
    let stem = stem.trim_end_matches('-');
    let named = (1..).map(|n| match n {
        1 => format!("{MEMOS_FOLDER}/{IMPORTED_MEMOS}/{stem}.md"),
        n => format!("{MEMOS_FOLDER}/{IMPORTED_MEMOS}/{stem}-{n}.md"),
    });
    let free = |file: &String| {
        !memos.iter().any(|memo| memo.file == *file)
            && memo_on_disk(dir, file).is_none_or(|on_disk| on_disk.as_deref() == Some(text))
    };
    let mut candidates = exported_from.into_iter().chain(named);
    // The named files never end; one of them is free.
    candidates.find(free).unwrap_or_default()
}

/// Whether `file`, as a project names it (and so not to be trusted), is a
/// Markdown file under `memos/` by a plain relative path: no `..`, no hidden
/// or empty parts, no characters file systems refuse.
fn is_memo_file(file: &str) -> bool {
    let Some(below) = file.strip_prefix(MEMOS_FOLDER).and_then(|f| f.strip_prefix('/')) else {
        return false;
    };
    file.ends_with(".md")
        && below.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && !part.chars().any(|c| c.is_control() || "\\:*?\"<>|".contains(c))
        })
}

/// The text of the memo file at `file` under `dir`: `None` where there is
/// none, `Some(None)` where something is there that cannot be read as text.
fn memo_on_disk(dir: &Path, file: &str) -> Option<Option<String>> {
    match fs::read(dir.join(file)) {
        Ok(bytes) => Some(decode_text(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(_) => Some(None),
    }
}

/// `thematic.toml` of a study made by the import.
fn new_config(project: &ImportedProject, shown: &str) -> String {
    let name = project.name.clone().unwrap_or_else(|| "Imported study".into());
    let mut study = Table::new();
    study["name"] = value(name);
    study["description"] = value(format!(
        "Imported from {shown}{}.",
        project.origin.as_deref().map(|o| format!(" ({o})")).unwrap_or_default()
    ));
    let mut document = DocumentMut::new();
    document["study"] = Item::Table(study);
    format!(
        "# Made by `thematic import qdpx`: the project's sources are in transcripts/,\n# its codebook in codebooks/, each coder's codings in coders/.\n\n{document}"
    )
}

/// Decides each source's transcript. A source a study exported names its
/// transcript by id; any other becomes `transcripts/NAME.txt`. A transcript
/// already there must hold the source's text as the study analyses it
/// (decoded, redacted, a caption file's turns joined): a source of another
/// text under a taken name is reported and left out.
fn place_sources(
    project: &ImportedProject,
    dir: &Path,
    existing: Option<&Plan>,
    config: &StudyConfig,
    shown: &str,
    files: &mut Vec<(PathBuf, String)>,
    diagnostics: &mut Diagnostics,
) -> Result<Vec<Placed>> {
    let matcher = transcript_matcher(config)?;
    let known: BTreeMap<&str, &PathBuf> = existing
        .map(|study| study.transcripts.iter().map(|(id, path)| (id.as_str(), path)).collect())
        .unwrap_or_default();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut placed = Vec::new();
    for (index, source) in project.sources.iter().enumerate() {
        let id = match known.contains_key(source.name.as_str()) {
            true => source.name.clone(),
            false => format!("transcripts/{}", file_name(&source.name, &mut taken)),
        };
        let path = dir.join(&id);
        // What the study reads there now, with its content hash where it is a transcript of the study.
        let current: Option<(Option<String>, Option<String>)> = match (known.get(id.as_str()), existing) {
            (Some(known_path), Some(study)) => Some(match analysed_text(study, &id, known_path) {
                Ok((text, hash)) => (Some(text), Some(hash)),
                Err(_) => (None, None),
            }),
            _ if path.exists() => Some((fs::read(&path).ok().and_then(|b| decode_text(&b).ok()), None)),
            _ => None,
        };
        let known_hash = match &current {
            Some((text, hash)) if text.as_deref() == Some(source.text.as_str()) => hash.clone(),
            Some(_) => {
                diagnostics.fail(format!(
                    "{shown}: source `{}`: {} already holds another text; the source and its codings were not imported (rename or move one of them)",
                    source.name,
                    path.display()
                ));
                continue;
            }
            None => {
                files.push((path, source.text.clone()));
                None
            }
        };
        if !matcher.is_match(&id) {
            diagnostics.warn(format!(
                "{id}: not among the transcripts {CONFIG_FILE} includes ({}); add a pattern for it",
                config.study.transcripts.include.join(", ")
            ));
        }
        let hash = match known_hash {
            Some(hash) => hash,
            None => {
                let seen = existing.map_or_else(|| source.text.clone(), |study| study.redacted(&source.text));
                if seen != source.text && !source.codings.is_empty() {
                    diagnostics.fail(format!(
                        "{shown}: source `{}`: the study's redaction list changes its text, so the positions of its {} would not fit; they were not imported (the transcript was)",
                        source.name,
                        count(source.codings.len(), "coding")
                    ));
                }
                match seen == source.text {
                    true => sha256_hex(seen.as_bytes()),
                    false => String::new(),
                }
            }
        };
        placed.push(Placed {
            source: index,
            id,
            hash,
            new: current.is_none(),
        });
    }
    Ok(placed)
}

/// A transcript file name for a source named `name` (which may be a path,
/// as thematic's own exports name sources), unique among `taken`.
fn file_name(name: &str, taken: &mut BTreeSet<String>) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .map(|c| match c {
            ':' | '*' | '?' | '"' | '<' | '>' | '|' => '-',
            c if c.is_control() => '-',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim().trim_matches('.').to_string();
    let stem = match cleaned.rsplit_once('.') {
        Some((stem, extension))
            if ["txt", "md", "vtt", "srt", "docx", "rtf", "doc", "pdf"]
                .contains(&extension.to_ascii_lowercase().as_str()) =>
        {
            stem.to_string()
        }
        _ => cleaned,
    };
    // File systems take names of 255 bytes; a few characters go to ` (2).txt`.
    let stem: String = stem
        .chars()
        .scan(0, |bytes, c| {
            *bytes += c.len_utf8();
            (*bytes <= 200).then_some(c)
        })
        .collect();
    let stem = if stem.is_empty() { "source".to_string() } else { stem };
    let mut candidate = format!("{stem}.txt");
    let mut n = 1;
    while !taken.insert(candidate.to_lowercase()) {
        n += 1;
        candidate = format!("{stem} ({n}).txt");
    }
    candidate
}

/// Cases as participants: their variables as attributes, a source in one
/// case as that participant's transcript.
fn add_participants(
    project: &ImportedProject,
    placed: &[Placed],
    dir: &Path,
    existing: Option<&Plan>,
    document: &mut DocumentMut,
    files: &mut Vec<(PathBuf, String)>,
    diagnostics: &mut Diagnostics,
) -> Result<()> {
    let mut cases_of: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for case in &project.cases {
        for &source in &case.sources {
            cases_of.entry(source).or_default().push(&case.name);
        }
    }
    for place in placed {
        let participant = match cases_of.get(&place.source).map(Vec::as_slice) {
            Some([one]) => *one,
            Some(several) => {
                diagnostics.warn(format!(
                    "{}: in {} ({}); a transcript with several participants takes them from its speaker labels",
                    place.id,
                    count(several.len(), "case"),
                    several.join(", ")
                ));
                continue;
            }
            None => continue,
        };
        let inferred = match existing {
            Some(study) => study.participant_of(&place.id),
            None => document_name(&place.id),
        };
        if inferred != participant && !place.new {
            // Who a transcript the study had is with stays the study's call.
            diagnostics.warn(format!(
                "{}: the project has it in case `{participant}`; the study keeps it with `{inferred}`",
                place.id
            ));
        } else if inferred != participant {
            let transcripts = document.entry("transcripts").or_insert_with(implicit_table);
            // `transcripts = { … }` becomes a table of its own, to take a table inside.
            if let Some(inline) = transcripts.as_inline_table().cloned() {
                *transcripts = Item::Table(inline.into_table());
            }
            let transcripts = transcripts
                .as_table_mut()
                .context("`transcripts` in thematic.toml is not a table")?;
            let mapping = transcripts
                .entry("participants")
                .or_insert_with(|| Item::Table(Table::new()))
                .as_table_like_mut()
                .context("`transcripts.participants` in thematic.toml is not a table")?;
            mapping.insert(&place.id, value(participant));
        }
    }
    if project.cases.is_empty() {
        return Ok(());
    }
    let configured = existing
        .and_then(|s| s.config.study.participants.as_ref())
        .map(|p| p.file.clone());
    // New rows go after the study's own, whose text is kept as it is.
    let (file, text, columns, known): (String, String, Vec<String>, BTreeSet<&str>) = match &configured {
        Some(file) if is_toml(Path::new(file)) => {
            let known: BTreeSet<&str> = existing.map_or(BTreeSet::new(), |s| {
                s.participants.iter().map(|p| p.id.as_str()).collect()
            });
            let missing: Vec<&str> = project
                .cases
                .iter()
                .map(|c| c.name.as_str())
                .filter(|n| !known.contains(n))
                .collect();
            if !missing.is_empty() {
                diagnostics.warn(format!(
                    "{file}: cases not added to a TOML participants file: {}; add them by hand",
                    missing.join(", ")
                ));
            }
            return Ok(());
        }
        Some(file) => {
            let path = dir.join(file);
            let text = match fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    diagnostics.warn(format!("{}: {e}; the project's cases were not added", path.display()));
                    return Ok(());
                }
            };
            let columns: Vec<String> = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.trim_start_matches('\u{feff}').as_bytes())
                .headers()
                .map(|h| h.iter().map(str::to_string).collect())
                .unwrap_or_default();
            let known = existing.map_or(BTreeSet::new(), |s| {
                s.participants.iter().map(|p| p.id.as_str()).collect()
            });
            (file.clone(), text, columns, known)
        }
        None => {
            let mut file = "participants.csv".to_string();
            let mut n = 1;
            while dir.join(&file).exists() {
                n += 1;
                file = match n {
                    2 => "participants-imported.csv".to_string(),
                    _ => format!("participants-imported-{n}.csv"),
                };
            }
            let mut table = Table::new();
            table["file"] = value(&file);
            document["participants"] = Item::Table(table);
            let columns: Vec<String> = ["id".to_string()]
                .into_iter()
                .chain(project.variables.iter().cloned())
                .collect();
            let mut header = csv::Writer::from_writer(Vec::new());
            header.write_record(&columns)?;
            (file, String::from_utf8(header.into_inner()?)?, columns, BTreeSet::new())
        }
    };
    let unknown: BTreeSet<&str> = project
        .variables
        .iter()
        .map(String::as_str)
        .filter(|v| !columns.iter().skip(1).any(|c| c == v))
        .collect();
    if !unknown.is_empty() {
        diagnostics.warn(format!(
            "{file}: has no column for the variable(s) {}; their values were not imported",
            unknown.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut rows = csv::Writer::from_writer(Vec::new());
    let mut added = 0;
    for case in project.cases.iter().filter(|c| !known.contains(c.name.as_str())) {
        let row: Vec<&str> = columns
            .iter()
            .enumerate()
            .map(|(at, column)| match at {
                0 => case.name.as_str(),
                _ => case
                    .values
                    .iter()
                    .find(|(variable, _)| variable == column)
                    .map_or("", |(_, v)| v.as_str()),
            })
            .collect();
        rows.write_record(&row)?;
        added += 1;
    }
    if added > 0 || configured.is_none() {
        let mut text = text;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&String::from_utf8(rows.into_inner()?)?);
        files.push((dir.join(&file), text));
    }
    Ok(())
}

fn implicit_table() -> Item {
    let mut table = Table::new();
    table.set_implicit(true);
    Item::Table(table)
}

/// The first line of every file the import writes into `codebooks/`.
const IMPORTED_CODEBOOK: &str = "# Imported from ";

/// The project's codebook as `codebooks/NAME.toml`, named in [[codebooks]].
/// A second import writes the same file again, keeping what was added to it
/// since (dictionary terms, codes of its own) so that every stage naming it
/// still loads; a file of that name the import did not write, or one that no
/// longer reads, is left alone and another name taken. Returns the name.
fn add_codebook(
    project: &ImportedProject,
    dir: &Path,
    config: &StudyConfig,
    document: &mut DocumentMut,
    files: &mut Vec<(PathBuf, String)>,
    shown: &str,
    diagnostics: &mut Diagnostics,
) -> Result<String> {
    let base = project
        .name
        .as_deref()
        .and_then(slug)
        .unwrap_or_else(|| "imported".into());
    let mut n = 1;
    let (name, file, earlier) = loop {
        let name = if n == 1 { base.clone() } else { format!("{base}-{n}") };
        let file = format!("codebooks/{name}.toml");
        let path = dir.join(&file);
        let entry = config
            .study
            .codebooks
            .iter()
            .find(|c| *c.name.get_ref() == name || c.file == file);
        let imported_before = fs::read_to_string(&path).is_ok_and(|text| text.starts_with(IMPORTED_CODEBOOK));
        match entry {
            Some(book) if *book.name.get_ref() == name && book.file == file && imported_before => {
                match load_codebook(&path) {
                    Ok((earlier, _)) => break (name, file, Some(earlier)),
                    Err(e) => diagnostics.warn(format!(
                        "{}: no longer reads ({e:#}); left as it is, the project's codebook goes elsewhere",
                        path.display()
                    )),
                }
            }
            None if !path.exists() => break (name, file, None),
            _ => {}
        }
        n += 1;
    };
    let mut codes = project.codes.clone();
    if let Some(earlier) = &earlier {
        for code in codes.iter_mut().filter(|c| c.terms.is_empty()) {
            if let Some(before) = earlier.codes.iter().find(|c| c.id == code.id) {
                code.terms = before.terms.clone();
            }
        }
        let ids: BTreeSet<String> = codes.iter().map(|c| c.id.clone()).collect();
        codes.extend(earlier.codes.iter().filter(|c| !ids.contains(&c.id)).cloned());
    }
    files.push((dir.join(&file), codebook_toml(&codes, shown)?));
    if earlier.is_none() {
        let mut entry = Table::new();
        entry["name"] = value(&name);
        entry["file"] = value(file);
        array_of_tables(document, "codebooks")?.push(entry);
    }
    Ok(name)
}

pub(crate) fn array_of_tables<'d>(document: &'d mut DocumentMut, key: &str) -> Result<&'d mut ArrayOfTables> {
    document
        .entry(key)
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .with_context(|| {
            format!("`{key}` in {CONFIG_FILE} is not written as [[{key}]] tables; the import adds to them")
        })
}

/// The roles a person's `coder` stage codes: a person codes wherever they
/// select, so every role the study knows, the preamble too.
pub(crate) fn roles_a_person_codes(config: &StudyConfig) -> Vec<String> {
    let mut roles: Vec<String> = vec![PARTICIPANT_ROLE.to_string(), PREAMBLE_ROLE.to_string()];
    let speaker_roles = config
        .study
        .transcripts
        .speakers
        .values()
        .flat_map(|map| map.values())
        .filter_map(|who| match who {
            SpeakerAs::Role { role } => Some(role),
            SpeakerAs::Participant(_) => None,
        });
    for role in config.study.transcripts.roles.values().chain(speaker_roles) {
        if !roles.contains(role) {
            roles.push(role.clone());
        }
    }
    roles
}

/// A `[[stages]]` table for a `coder` stage reading a person's codings `file`.
pub(crate) fn coder_stage(name: &str, file: &str, codebook: &str, roles: &[String]) -> Table {
    let mut entry = Table::new();
    entry["name"] = value(name);
    entry["kind"] = value("coding");
    entry["strategy"] = value("coder");
    entry["codebook"] = value(codebook);
    entry["codings"] = value(file);
    entry["roles"] = value(roles.iter().collect::<Array>());
    entry
}

/// Each coder's codings as `coders/NAME.csv` and a `coder` stage reading
/// it. The file's first line says whose codings from which project they
/// are: a second import of that project updates that file and its stage
/// (pointed at the codebook of this import) rather than adding another.
/// Returns (stage, file, codings) of each.
#[allow(clippy::too_many_arguments)]
fn add_coders(
    project: &ImportedProject,
    placed: &[Placed],
    dir: &Path,
    config: &StudyConfig,
    existing: Option<&Plan>,
    codebook: &str,
    document: &mut DocumentMut,
    files: &mut Vec<(PathBuf, String)>,
) -> Result<Vec<(String, String, usize)>> {
    let roles = roles_a_person_codes(config);
    // Every stage name in use, a pack's included.
    let mut taken: BTreeSet<String> = config
        .study
        .stages
        .iter()
        .map(|s| s.get_ref().name.get_ref().clone())
        .collect();
    if let Some(study) = existing {
        taken.extend(study.stages.iter().map(|s| s.name.clone()));
    }
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    let mut files_taken: BTreeSet<String> = BTreeSet::new();
    let mut added = Vec::new();
    for (coder, name) in project.coders.iter().enumerate() {
        let mut rows = Vec::new();
        for place in placed.iter().filter(|p| !p.hash.is_empty()) {
            let source = &project.sources[place.source];
            // Each code point's byte, to cut the words coded out of the text once per source.
            let bytes: Vec<usize> = source
                .text
                .char_indices()
                .map(|(at, _)| at)
                .chain([source.text.len()])
                .collect();
            for coding in source.codings.iter().filter(|c| c.coder == coder) {
                // Kept so that the coding finds its words again once the transcript is corrected.
                let words = match (bytes.get(coding.start), bytes.get(coding.end)) {
                    (Some(&from), Some(&to)) => source.text.get(from..to).unwrap_or(""),
                    _ => "",
                };
                rows.push((
                    &place.id,
                    coding.start,
                    coding.end,
                    &project.codes[coding.code].id,
                    &place.hash,
                    words,
                ));
            }
        }
        if rows.is_empty() {
            continue;
        }
        let namesakes = project.coders[..coder].iter().filter(|n| *n == name).count();
        // Whose codings from which project; not the tool's version, which changes between exports.
        let provenance = format!(
            "Codings of {name:?}{} in {:?}, imported by thematic",
            if namesakes > 0 {
                format!(" ({})", namesakes + 1)
            } else {
                String::new()
            },
            project.name.as_deref().unwrap_or("an unnamed project"),
        );
        let earlier = config.study.stages.iter().map(|s| s.get_ref()).find(|stage| {
            let file = stage.codings.as_ref().map(|c| dir.join(c.get_ref()));
            !claimed.contains(stage.name.get_ref())
                && stage.strategy.get_ref() == "coder"
                && file
                    .and_then(|f| fs::read_to_string(f).ok())
                    .is_some_and(|t| t.lines().next().and_then(|l| l.strip_prefix("# ")) == Some(provenance.as_str()))
        });
        let (stage, file) = match earlier {
            Some(stage) => {
                let stage_name = stage.name.get_ref().clone();
                let stages = array_of_tables(document, "stages")?;
                if let Some(table) = stages
                    .iter_mut()
                    .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(stage_name.as_str()))
                {
                    table["codebook"] = value(codebook);
                }
                (
                    stage_name,
                    stage.codings.as_ref().map(|c| c.get_ref().clone()).unwrap_or_default(),
                )
            }
            None => {
                let wanted: String = name.chars().filter(|c| !c.is_control() && *c != ',').collect();
                let wanted = match wanted.trim() {
                    "" => "coder".to_string(),
                    trimmed => trimmed.to_string(),
                };
                let mut stage = wanted.clone();
                let mut n = 1;
                while taken.contains(&stage) {
                    n += 1;
                    stage = match n {
                        2 => format!("{wanted} (imported)"),
                        _ => format!("{wanted} (imported {n})"),
                    };
                }
                let base = slug(&stage).unwrap_or_else(|| "coder".into());
                let mut file = format!("coders/{base}.csv");
                let mut n = 1;
                while dir.join(&file).exists() || !files_taken.insert(file.clone()) {
                    n += 1;
                    file = format!("coders/{base}-{n}.csv");
                }
                array_of_tables(document, "stages")?.push(coder_stage(&stage, &file, codebook, &roles));
                (stage, file)
            }
        };
        taken.insert(stage.clone());
        claimed.insert(stage.clone());
        rows.sort();
        let mut written = DecisionsFile::new(&provenance, false);
        for (id, start, end, code, hash, words) in &rows {
            written.add(Decided {
                transcript: id.to_string(),
                code: code.to_string(),
                start: *start,
                end: *end,
                transcript_sha256: hash.to_string(),
                stage: String::new(),
                words: words.to_string(),
            });
        }
        files.push((dir.join(&file), written.render()));
        added.push((stage, file, rows.len()));
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_file_a_project_names_is_taken_only_as_a_plain_path_under_memos() {
        for file in ["memos/journal.md", "memos/2026/week-1.md", "memos/codes/C1.md"] {
            assert!(is_memo_file(file), "{file}");
        }
        for file in [
            "memos/../thematic.toml.md",
            "memos/a/../../b.md",
            "/etc/memos/x.md",
            "memos//x.md",
            "memos/.hidden.md",
            "memos/x.txt",
            "reports/x.md",
            "memos\\..\\x.md",
            "memos/a:b.md",
            "memos/.md",
            "memos",
        ] {
            assert!(!is_memo_file(file), "{file}");
        }
    }
}
