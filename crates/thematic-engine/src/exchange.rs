//! A study as a REFI-QDA project (`.qdpx`): every transcript as analysed,
//! every coding stage's codings (each stage a coder), the codes, themes and
//! areas of the analysis, the participants as cases and the memos as notes —
//! all served by a pass, so an export after a run reads no transcript file
//! and codes nothing.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{self, Seek, Write};

use thematic_model::{Analysis, Transcript};
use thematic_refi::{
    memos_on_sources, sources_part, CodedSource, Project, ProjectWriter, Selection, Source, SourcesPart,
};
use thematic_store::CodingView;

use crate::diagnostics::Diagnostics;
use crate::served::{OnCore, Served, ServedCodings};
use crate::study::Study;

/// What a written project holds.
pub struct Exported {
    pub sources: usize,
    pub codes: usize,
    pub selections: usize,
    pub notes: usize,
}

/// How many sources a part of the project carries: enough to keep a core
/// busy, few enough that the parts keep both cores busy to the end.
const SOURCES_PER_PART: usize = 8;

/// A transcript as it goes out: as analysed, with its whole text.
type Text<'a> = (Cow<'a, Transcript>, Cow<'a, str>);

/// Writes the study as a `.qdpx` project to `to`; a transcript that cannot
/// be served is reported and left out. The sources' parts are made on
/// every core and written as they come. The same study gives the same bytes.
pub fn write_project<W: Write + Seek>(
    study: &Study,
    served: &Served,
    analysis: &Analysis,
    diagnostics: &mut Diagnostics,
    to: W,
) -> io::Result<(W, Exported)> {
    // The texts first: the project's head names only the sources that go out.
    let mut texts: Vec<Text> = Vec::with_capacity(analysis.transcripts.len());
    served.on_every_core(
        &analysis.transcripts,
        |digest, core| core.transcript_and_text(&digest.id),
        |text| {
            match text {
                Ok(text) => texts.push(text),
                Err(message) => diagnostics.fail(message),
            }
            true
        },
    );
    let project = Project {
        name: &analysis.study,
        origin: concat!("thematic ", env!("CARGO_PKG_VERSION")),
        codes: &analysis.codes,
        themes: &analysis.themes,
        areas: &analysis.areas,
        participants: &study.plan.participants,
        sources: texts
            .iter()
            .map(|(transcript, _)| Source {
                id: &transcript.id,
                participant: transcript.participant.as_deref(),
            })
            .collect(),
        coders: study.stages.coding.iter().map(|stage| stage.name.as_str()).collect(),
        coded: analysis
            .transcripts
            .iter()
            .flat_map(|digest| digest.codes.iter().map(String::as_str))
            .collect(),
        memos: &analysis.memos,
    };
    let notes = memos_on_sources(&analysis.memos);
    // A selection may name only a code the project's codebook defines.
    let defined: HashSet<&str> = project
        .codes
        .iter()
        .map(|code| code.id.as_str())
        .chain(project.coded.iter().copied())
        .collect();
    let mut writer = ProjectWriter::start(&project, to)?;
    let mut selections = 0;
    let mut written = Ok(());
    let parts: Vec<&[Text]> = texts.chunks(SOURCES_PER_PART).collect();
    served.on_every_core(
        &parts,
        |texts, core| part_of(study, core, texts, &defined, &notes),
        |(part, failures)| {
            failures.into_iter().for_each(|message| diagnostics.fail(message));
            written = part.and_then(|part| {
                selections += part.selections();
                writer.add(part)
            });
            written.is_ok()
        },
    );
    written?;
    let exported = Exported {
        sources: project.sources.len(),
        codes: project.codes.len(),
        selections,
        notes: analysis.memos.len(),
    };
    Ok((writer.finish(&project)?, exported))
}

/// The part of the project that `texts` are, with every coding stage's
/// codings of each and the notes on each (`notes`, the memos' files by
/// transcript); a stage that cannot code a transcript is reported and left
/// out of it, and so are codings of codes not `defined` (a stage that
/// failed in the pass and codes now).
fn part_of(
    study: &Study,
    core: &OnCore,
    texts: &[Text],
    defined: &HashSet<&str>,
    notes: &HashMap<&str, Vec<&str>>,
) -> (io::Result<SourcesPart>, Vec<String>) {
    let mut failures = Vec::new();
    let codings: Vec<Vec<(&str, ServedCodings)>> = texts
        .iter()
        .map(|(transcript, _)| codings_of(study, core, transcript, &mut failures))
        .collect();
    let sources = texts
        .iter()
        .zip(&codings)
        .map(|((transcript, text), by_stage)| CodedSource {
            id: &transcript.id,
            text,
            selections: selections_of(transcript, by_stage, defined, &mut failures),
            notes: notes.get(transcript.id.as_str()).cloned().unwrap_or_default(),
        })
        .collect();
    (sources_part(sources), failures)
}

/// Each coding stage's codings of `transcript`, with the stage's name; what
/// cannot be had is put in `failures`.
fn codings_of<'s, 'a>(
    study: &'s Study,
    core: &OnCore<'_, 'a>,
    transcript: &Transcript,
    failures: &mut Vec<String>,
) -> Vec<(&'s str, ServedCodings<'a>)> {
    let mut by_stage = Vec::with_capacity(study.stages.coding.len());
    for stage in &study.stages.coding {
        match core.served_codings(transcript, stage) {
            Ok(codings) => by_stage.push((stage.name.as_str(), codings)),
            Err(message) => failures.push(message),
        }
    }
    by_stage
}

/// Every stretch each stage coded in `transcript` with a `defined` code,
/// with its coder; codings of other codes are counted in `failures`.
fn selections_of<'a>(
    transcript: &'a Transcript,
    by_stage: &'a [(&'a str, ServedCodings<'_>)],
    defined: &HashSet<&str>,
    failures: &mut Vec<String>,
) -> Vec<Selection<'a>> {
    let mut selections = Vec::new();
    for (coder, codings) in by_stage {
        let views = codings.views();
        let undefined = views.iter().filter(|view| !defined.contains(view.code)).count();
        if undefined > 0 {
            failures.push(format!(
                "{}: stage `{coder}`: {undefined} codings of codes the analysis does not have, left out of the project",
                transcript.id,
            ));
        }
        selections.reserve(views.len() - undefined);
        for view in views.into_iter().filter(|view| defined.contains(view.code)) {
            selections.extend(spans_of(transcript, view).map(|(start, end)| Selection {
                coder,
                code: view.code,
                start,
                end,
            }));
        }
    }
    selections
}

/// A coding's stretches of text; one without spans is about its whole segment.
fn spans_of<'t>(transcript: &'t Transcript, coding: CodingView<'t>) -> impl Iterator<Item = (usize, usize)> + 't {
    let whole = match coding.spans.is_empty() {
        true => transcript
            .segments
            .binary_search_by_key(&coding.turn, |s| s.turn)
            .ok()
            .map(|at| (transcript.segments[at].start, transcript.segments[at].end)),
        false => None,
    };
    coding.spans.iter().map(|s| (s.start, s.end)).chain(whole)
}
