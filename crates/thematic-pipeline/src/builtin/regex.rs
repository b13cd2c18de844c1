use serde::Deserialize;
use thematic_codebook::{Codebook, CodebookError, RegexMatcher};
use thematic_model::{Segment, Transcript};

use crate::{CodeHit, CodingStrategy, StrategyError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegexParams {
    #[serde(default = "case_insensitive_by_default")]
    pub case_insensitive: bool,
}

fn case_insensitive_by_default() -> bool {
    true
}

/// Codes a segment with every code one of whose regular expressions matches
/// its text; each match is a span.
pub struct RegexStrategy {
    matcher: RegexMatcher,
    codes: Vec<String>,
}

impl RegexStrategy {
    pub fn new(codebook: &Codebook, case_insensitive: bool) -> Result<RegexStrategy, CodebookError> {
        Ok(RegexStrategy {
            matcher: RegexMatcher::new(codebook, case_insensitive)?,
            codes: codebook.codes.iter().map(|c| c.id.clone()).collect(),
        })
    }
}

impl CodingStrategy for RegexStrategy {
    fn known_codes(&self) -> Option<Vec<String>> {
        Some(self.codes.clone())
    }

    fn code(&self, _: &Transcript, segments: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError> {
        let mut hits = Vec::new();
        for segment in segments {
            for (code, ranges) in self.matcher.matches(&segment.text) {
                hits.push(CodeHit {
                    turn: segment.turn,
                    code: code.to_string(),
                    // Matches are never empty and fall on character boundaries.
                    spans: ranges
                        .into_iter()
                        .filter_map(|r| segment.span_of_bytes(r.start, r.end))
                        .collect(),
                    confidence: None,
                    memo: None,
                });
            }
        }
        Ok(hits)
    }
}
