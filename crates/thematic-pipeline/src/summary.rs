use std::collections::{BTreeMap, BTreeSet};

use thematic_model::{CodeDocumentMatrix, TranscriptDigest};

/// How one code was applied across the study.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeSummary {
    /// Segments carrying the code.
    pub segments: usize,
    /// Participants with at least one such segment.
    pub participants: BTreeSet<String>,
}

/// Two codes on the same segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cooccurrence {
    /// Segments carrying both codes.
    pub segments: usize,
    /// Participants with at least one such segment.
    pub participants: BTreeSet<String>,
}

/// What a theme-grouping strategy sees of the coding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodingSummary {
    pub codes: BTreeMap<String, CodeSummary>,
    /// For each pair of codes `(a, b)` with `a < b`, where both are on one segment.
    pub cooccurrence: BTreeMap<(String, String), Cooccurrence>,
}

impl CodingSummary {
    pub fn new(transcripts: &[TranscriptDigest]) -> CodingSummary {
        let mut summary = CodingSummary::default();
        let mut by_turn: Vec<(u32, &str)> = Vec::new();
        for transcript in transcripts {
            by_turn.clear();
            by_turn.extend(transcript.coded_turns().map(|(code, turn)| (turn, code)));
            // By turn, and on each turn by code: pairs come out as (a, b) with a < b.
            by_turn.sort_unstable();
            for on_turn in by_turn.chunk_by(|a, b| a.0 == b.0) {
                let participant = transcript.speaker_of(on_turn[0].0);
                for (i, &(_, a)) in on_turn.iter().enumerate() {
                    let entry = summary.codes.entry(a.to_string()).or_default();
                    entry.segments += 1;
                    entry.participants.extend(participant.map(str::to_string));
                    for &(_, b) in &on_turn[i + 1..] {
                        let pair = summary.cooccurrence.entry((a.to_string(), b.to_string())).or_default();
                        pair.segments += 1;
                        pair.participants.extend(participant.map(str::to_string));
                    }
                }
            }
        }
        summary
    }
}

/// Segments per document carrying each code (any stage), documents named by
/// their file name without extension, or by their whole path (without
/// extension) where two transcripts in different folders share a name.
pub fn code_document_matrix(transcripts: &[TranscriptDigest]) -> CodeDocumentMatrix<'_> {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for transcript in transcripts {
        *names.entry(document_name(&transcript.id)).or_default() += 1;
    }
    let name_of = |id: &str| {
        let name = document_name(id);
        if names[&name] > 1 {
            id.rsplit_once('.').map_or(id, |(path, _)| path).to_string()
        } else {
            name
        }
    };
    let mut matrix = CodeDocumentMatrix::default();
    for transcript in transcripts {
        matrix.segments += transcript.turns.len();
        let row = transcript
            .coded
            .chunk_by(|a, b| a.0 == b.0)
            .map(|turns| (transcript.codes[turns[0].0 as usize].as_str(), turns.len()))
            .collect();
        matrix.coded_segments.insert(name_of(&transcript.id), row);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest;
    use crate::test_support::coding;

    fn transcript(id: &str) -> TranscriptDigest {
        TranscriptDigest {
            id: id.into(),
            ..TranscriptDigest::default()
        }
    }

    #[test]
    fn the_summary_counts_segments_participants_and_co_occurrence() {
        let roles = crate::RoleMap::default();
        let (t, _) = crate::transcript_from_text("a.txt", "P1: one\nP1: two\n", "h", Some("P1"), &roles);
        let codings = [
            coding("a.txt", 1, "anger"),
            coding("a.txt", 1, "trust"),
            coding("a.txt", 2, "anger"),
        ];
        let summary = CodingSummary::new(&[digest(&t, &codings)]);
        assert_eq!(summary.codes["anger"].segments, 2);
        assert_eq!(summary.codes["trust"].participants.iter().collect::<Vec<_>>(), ["P1"]);
        assert_eq!(
            summary.cooccurrence,
            BTreeMap::from([(
                ("anger".to_string(), "trust".to_string()),
                Cooccurrence {
                    segments: 1,
                    participants: BTreeSet::from(["P1".to_string()])
                }
            )])
        );
    }

    #[test]
    fn documents_sharing_a_file_name_keep_their_folders() {
        let transcripts = [
            transcript("t/a/P1.txt"),
            transcript("t/b/P1.txt"),
            transcript("t/P2.md"),
        ];
        let matrix = code_document_matrix(&transcripts);
        let names: Vec<&str> = matrix.coded_segments.keys().map(String::as_str).collect();
        assert_eq!(names, ["P2", "t/a/P1", "t/b/P1"]);
    }
}
