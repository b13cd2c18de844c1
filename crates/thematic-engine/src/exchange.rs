//! A study as a REFI-QDA project (`.qdpx`): every transcript as analysed,
//! every coding stage's codings (each stage a coder), the codes, themes and
//! areas of the analysis and the participants as cases — all served by a
//! pass, so an export after a run reads no transcript file and codes nothing.

use thematic_model::Analysis;
use thematic_refi::{qdpx, Project, Selection, Source};

use crate::diagnostics::Diagnostics;
use crate::served::Served;
use crate::study::Study;

/// A project's bytes, and what it holds.
pub struct Exported {
    pub bytes: Vec<u8>,
    pub sources: usize,
    pub codes: usize,
    pub selections: usize,
}

/// The study as a `.qdpx` project; a transcript that cannot be served is
/// reported and left out. The same study gives the same bytes.
pub fn project_of(study: &Study, served: &Served, analysis: &Analysis, diagnostics: &mut Diagnostics) -> Exported {
    let mut sources = Vec::new();
    for digest in &analysis.transcripts {
        match served.transcript_and_text(&digest.id) {
            Ok((transcript, text)) => sources.push((text, transcript)),
            Err(message) => diagnostics.fail(message),
        }
    }
    // Each coding as (transcript, stage, code, start, end); one without spans is about its whole segment.
    let mut coded: Vec<(usize, usize, String, usize, usize)> = Vec::new();
    for (index, (_, transcript)) in sources.iter().enumerate() {
        for (stage_index, stage) in study.stages.coding.iter().enumerate() {
            let codings = match served.codings(transcript, stage) {
                Ok(codings) => codings,
                Err(message) => {
                    diagnostics.fail(message);
                    continue;
                }
            };
            for coding in codings {
                let at = transcript.segments.binary_search_by_key(&coding.turn, |s| s.turn);
                let segment = at.ok().map(|at| &transcript.segments[at]);
                let spans: Vec<(usize, usize)> = match (coding.spans.is_empty(), segment) {
                    (false, _) => coding.spans.iter().map(|s| (s.start, s.end)).collect(),
                    (true, Some(segment)) => vec![(segment.start, segment.end)],
                    (true, None) => Vec::new(),
                };
                for (start, end) in spans {
                    coded.push((index, stage_index, coding.code.clone(), start, end));
                }
            }
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
            .map(|(index, stage, code, start, end)| Selection {
                transcript: &sources[*index].1.id,
                coder: &study.stages.coding[*stage].name,
                code,
                start: *start,
                end: *end,
            })
            .collect(),
    };
    Exported {
        bytes: qdpx(&project),
        sources: project.sources.len(),
        codes: project.codes.len(),
        selections: project.selections.len(),
    }
}
