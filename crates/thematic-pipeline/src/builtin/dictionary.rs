use thematic_codebook::{Codebook, CodebookError, DictionaryMatcher};
use thematic_model::{Segment, Span, Transcript};
use thematic_text::{fold_texts, folded_starts, is_word, FoldedTranscript};

use crate::{CodeHit, CodingStrategy, StrategyError};

/// Codes a segment with every code one of whose terms occurs in it, matched
/// as `peer_re.py` matches (see [`DictionaryMatcher`]). Each occurrence is a
/// span; a prefix term's span runs to the end of the word it starts.
pub struct DictionaryStrategy {
    matcher: DictionaryMatcher,
}

impl DictionaryStrategy {
    pub fn new(codebook: &Codebook) -> Result<DictionaryStrategy, CodebookError> {
        Ok(DictionaryStrategy {
            matcher: DictionaryMatcher::new(codebook)?,
        })
    }
}

impl CodingStrategy for DictionaryStrategy {
    fn known_codes(&self) -> Option<Vec<String>> {
        Some(self.matcher.codes().to_vec())
    }

    fn code(&self, _: &Transcript, segments: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError> {
        let mut folded = FoldedTranscript::default();
        fold_texts(segments.iter().map(|s| s.text.as_str()), &mut folded);
        let mut found = Vec::new();
        self.matcher.scan(&folded, |hit| found.push(hit));
        let mut maps: Vec<Option<(Vec<usize>, Vec<char>)>> = vec![None; segments.len()];
        let hits = found
            .into_iter()
            .map(|hit| {
                let segment = segments[hit.turn];
                let (starts, chars) = maps[hit.turn]
                    .get_or_insert_with(|| (folded_starts(&segment.text), segment.text.chars().collect()));
                let offset = folded.turn_starts[hit.turn];
                let start = starts.partition_point(|&s| s <= hit.folded.start - offset) - 1;
                let mut end = starts.partition_point(|&s| s < hit.folded.end - offset);
                while hit.prefix && chars.get(end).is_some_and(|&c| is_word(c)) {
                    end += 1;
                }
                CodeHit {
                    turn: segment.turn,
                    code: self.matcher.codes()[hit.code as usize].clone(),
                    spans: vec![Span {
                        start: segment.start + start,
                        end: segment.start + end,
                    }],
                    confidence: None,
                    memo: None,
                }
            })
            .collect();
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{transcript_from_text, RoleMap};

    #[test]
    fn spans_are_code_points_in_the_transcript_and_prefix_spans_cover_the_word() {
        let book = Codebook::from_csv("b.csv", "code,term\nrisk,fail*\nsupport,line manager\n").unwrap();
        let strategy = DictionaryStrategy::new(&book).unwrap();
        let text = "Interviewer: Ça?\nP1: Élan — we were FAILING; my line\n\n  manager left.";
        let (transcript, _) = transcript_from_text("t.txt", text, "h", Some("P1"), &RoleMap::default());
        let segments: Vec<&Segment> = transcript.segments.iter().collect();
        let hits = strategy.code(&transcript, &segments).unwrap();
        let chars: Vec<char> = text.chars().collect();
        let quoted: Vec<(String, String)> = hits
            .iter()
            .map(|h| (h.code.clone(), chars[h.spans[0].start..h.spans[0].end].iter().collect()))
            .collect();
        assert_eq!(
            quoted,
            [
                ("risk".to_string(), "FAILING".to_string()),
                ("support".into(), "line\n\n  manager".into())
            ]
        );
        assert!(hits.iter().all(|h| h.turn == 2));
    }
}
