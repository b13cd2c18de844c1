//! A study as a REFI-QDA project (`.qdpx`): every transcript as analysed,
//! every coding stage's codings (each stage a coder), the codes, themes and
//! areas of the analysis and the participants as cases — all served by a
//! pass, so an export after a run reads no transcript file and codes nothing.

use std::io::{self, Seek, Write};

use thematic_model::{Analysis, Coding, Transcript};
use thematic_refi::{write_qdpx, Project, Selection, Source};

use crate::diagnostics::Diagnostics;
use crate::served::Served;
use crate::study::Study;

/// What a written project holds.
pub struct Exported {
    pub sources: usize,
    pub codes: usize,
    pub selections: usize,
}

/// Writes the study as a `.qdpx` project to `to`; a transcript that cannot
/// be served is reported and left out. The same study gives the same bytes.
pub fn write_project<W: Write + Seek>(
    study: &Study,
    served: &Served,
    analysis: &Analysis,
    diagnostics: &mut Diagnostics,
    to: W,
) -> io::Result<(W, Exported)> {
    let mut sources = Vec::new();
    for digest in &analysis.transcripts {
        match served.transcript_and_text(&digest.id) {
            Ok((transcript, text)) => sources.push((text, transcript)),
            Err(message) => diagnostics.fail(message),
        }
    }
    // Each (transcript, stage) pair's codings, by their indexes.
    let indexes: Vec<(usize, usize)> = (0..sources.len())
        .flat_map(|index| (0..study.stages.coding.len()).map(move |stage| (index, stage)))
        .collect();
    let pairs: Vec<_> = indexes
        .iter()
        .map(|&(index, stage)| (sources[index].1.as_ref(), &study.stages.coding[stage]))
        .collect();
    let mut coded: Vec<(usize, usize, Vec<Coding>)> = Vec::new();
    for (&(index, stage), codings) in indexes.iter().zip(served.codings_of_all(&pairs)) {
        match codings {
            Ok(codings) => coded.push((index, stage, codings)),
            Err(message) => diagnostics.fail(message),
        }
    }
    let project = Project {
        name: &analysis.study,
        origin: concat!("thematic ", env!("CARGO_PKG_VERSION")),
        codes: &analysis.codes,
        themes: &analysis.themes,
        areas: &analysis.areas,
        participants: &study.plan.participants,
        sources: sources
            .iter()
            .map(|(text, transcript)| Source {
                id: &transcript.id,
                text,
                participant: transcript.participant.as_deref(),
            })
            .collect(),
        selections: coded
            .iter()
            .flat_map(|(index, stage, codings)| {
                let transcript = &sources[*index].1;
                let coder = study.stages.coding[*stage].name.as_str();
                codings.iter().flat_map(move |coding| {
                    spans_of(transcript, coding).map(move |(start, end)| Selection {
                        transcript: &transcript.id,
                        coder,
                        code: &coding.code,
                        start,
                        end,
                    })
                })
            })
            .collect(),
    };
    let exported = Exported {
        sources: project.sources.len(),
        codes: project.codes.len(),
        selections: project.selections.len(),
    };
    Ok((write_qdpx(&project, to)?, exported))
}

/// A coding's stretches of text; one without spans is about its whole segment.
fn spans_of<'t>(transcript: &'t Transcript, coding: &'t Coding) -> impl Iterator<Item = (usize, usize)> + 't {
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
