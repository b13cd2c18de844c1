use std::collections::{BTreeMap, BTreeSet, HashMap};

use thematic_model::{CodeDocumentMatrix, Coding, Transcript};

/// How one code was applied across the study.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeSummary {
    /// Segments carrying the code.
    pub segments: usize,
    /// Participants with at least one such segment.
    pub participants: BTreeSet<String>,
}

/// What a theme-grouping strategy sees of the coding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodingSummary {
    pub codes: BTreeMap<String, CodeSummary>,
    /// For each pair of codes `(a, b)` with `a < b`, the segments carrying both.
    pub cooccurrence: BTreeMap<(String, String), usize>,
}

impl CodingSummary {
    pub fn new(transcripts: &[Transcript], codings: &[Coding]) -> CodingSummary {
        let participant_of = segment_participants(transcripts);
        let mut by_segment: BTreeMap<(&str, u32), BTreeSet<&str>> = BTreeMap::new();
        for coding in codings {
            by_segment
                .entry((&coding.transcript, coding.turn))
                .or_default()
                .insert(&coding.code);
        }
        let mut summary = CodingSummary::default();
        for (segment, codes) in &by_segment {
            for &code in codes {
                let entry = summary.codes.entry(code.to_string()).or_default();
                entry.segments += 1;
                if let Some(Some(participant)) = participant_of.get(segment) {
                    entry.participants.insert(participant.to_string());
                }
            }
            let codes: Vec<&str> = codes.iter().copied().collect();
            for (i, a) in codes.iter().enumerate() {
                for b in &codes[i + 1..] {
                    *summary.cooccurrence.entry((a.to_string(), b.to_string())).or_default() += 1;
                }
            }
        }
        summary
    }
}

/// The participant who speaks each segment, keyed by (transcript, turn).
pub(crate) fn segment_participants(transcripts: &[Transcript]) -> HashMap<(&str, u32), Option<&str>> {
    transcripts
        .iter()
        .flat_map(|t| {
            t.segments
                .iter()
                .map(move |s| ((t.id.as_str(), s.turn), s.participant.as_deref()))
        })
        .collect()
}

/// Segments per document carrying each code (any stage), documents named by
/// their file stem.
pub fn code_document_matrix(transcripts: &[Transcript], codings: &[Coding]) -> CodeDocumentMatrix {
    let mut segments_with_code: BTreeMap<&str, BTreeMap<&str, BTreeSet<u32>>> = BTreeMap::new();
    for coding in codings {
        segments_with_code
            .entry(&coding.transcript)
            .or_default()
            .entry(&coding.code)
            .or_default()
            .insert(coding.turn);
    }
    let mut matrix = CodeDocumentMatrix::default();
    for transcript in transcripts {
        matrix.segments += transcript.segments.len();
        let row = segments_with_code
            .get(transcript.id.as_str())
            .map(|codes| {
                codes
                    .iter()
                    .map(|(code, turns)| (code.to_string(), turns.len()))
                    .collect()
            })
            .unwrap_or_default();
        matrix.coded_segments.insert(document_name(&transcript.id), row);
    }
    matrix
}

/// A transcript's file name without folder and extension.
pub fn document_name(id: &str) -> String {
    let file = id.rsplit('/').next().unwrap_or(id);
    match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_string(),
        _ => file.to_string(),
    }
}
