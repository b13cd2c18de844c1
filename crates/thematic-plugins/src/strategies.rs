//! Plugins standing where builtin strategies stand.

use thematic_codebook::Codebook;
use thematic_model::{CandidateTheme, Segment, Transcript};
use thematic_pipeline::{CodeHit, CodingStrategy, CodingSummary, StrategyError, ThemeGrouper};
use thematic_plugin_api::{
    CodeRequest, GroupRequest, RequestCode, RequestSegment, ResponseTheme, SummaryCode, SummaryPair,
};

use crate::Plugin;

/// A plugin coding each transcript.
pub struct PluginCodingStrategy {
    plugin: Plugin,
    params: serde_json::Value,
    codebook: Vec<RequestCode>,
}

impl PluginCodingStrategy {
    /// `codebook`: the stage's, if it names one; the plugin then may return only its codes.
    pub fn new(plugin: Plugin, params: serde_json::Value, codebook: Option<&Codebook>) -> PluginCodingStrategy {
        let codebook = codebook
            .map(|book| {
                book.codes
                    .iter()
                    .map(|c| RequestCode {
                        id: c.id.clone(),
                        terms: c.terms.iter().map(|t| t.text.clone()).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        PluginCodingStrategy {
            plugin,
            params,
            codebook,
        }
    }
}

impl CodingStrategy for PluginCodingStrategy {
    fn known_codes(&self) -> Option<Vec<String>> {
        (!self.codebook.is_empty()).then(|| self.codebook.iter().map(|c| c.id.clone()).collect())
    }

    fn code(&self, transcript: &Transcript, segments: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError> {
        let request = CodeRequest {
            transcript: transcript.id.clone(),
            segments: segments
                .iter()
                .map(|s| RequestSegment {
                    turn: s.turn,
                    speaker: s.speaker.clone(),
                    role: s.role.clone(),
                    participant: s.participant.clone(),
                    text: s.text.clone(),
                })
                .collect(),
            params: self.params.clone(),
            codebook: self.codebook.clone(),
        };
        let response = self
            .plugin
            .code(&request)
            .map_err(|e| StrategyError::Failed(e.to_string()))?;
        let mut hits = Vec::with_capacity(response.codings.len());
        for coding in response.codings {
            let Some(segment) = segments.iter().find(|s| s.turn == coding.turn) else {
                return Err(StrategyError::UnknownTurn { turn: coding.turn });
            };
            let mut spans = Vec::with_capacity(coding.spans.len());
            for (start, end) in coding.spans {
                let Some(span) = segment.span_of_bytes(start, end) else {
                    return Err(StrategyError::Failed(format!(
                        "{}: turn {}: code `{}`: span {start}..{end} is not a stretch of the segment's {} bytes on character boundaries",
                        self.plugin.name(),
                        coding.turn,
                        coding.code,
                        segment.text.len()
                    )));
                };
                spans.push(span);
            }
            hits.push(CodeHit {
                turn: coding.turn,
                code: coding.code,
                spans,
                confidence: coding.confidence,
                memo: coding.memo,
            });
        }
        Ok(hits)
    }
}

/// A plugin proposing candidate themes from how the study was coded.
pub struct PluginThemeGrouper {
    plugin: Plugin,
    params: serde_json::Value,
}

impl PluginThemeGrouper {
    pub fn new(plugin: Plugin, params: serde_json::Value) -> PluginThemeGrouper {
        PluginThemeGrouper { plugin, params }
    }
}

impl ThemeGrouper for PluginThemeGrouper {
    fn group(&self, summary: &CodingSummary) -> Result<Vec<CandidateTheme>, StrategyError> {
        let request = GroupRequest {
            codes: summary
                .codes
                .iter()
                .map(|(code, used)| {
                    let used = SummaryCode {
                        segments: used.segments,
                        participants: used.participants.iter().cloned().collect(),
                    };
                    (code.clone(), used)
                })
                .collect(),
            cooccurrence: summary
                .cooccurrence
                .iter()
                .map(|((a, b), pair)| SummaryPair {
                    a: a.clone(),
                    b: b.clone(),
                    segments: pair.segments,
                    participants: pair.participants.iter().cloned().collect(),
                })
                .collect(),
            params: self.params.clone(),
        };
        let response = self
            .plugin
            .group(&request)
            .map_err(|e| StrategyError::Failed(e.to_string()))?;
        fn candidate(theme: ResponseTheme) -> CandidateTheme {
            CandidateTheme {
                id: theme.id,
                name: theme.name,
                codes: theme.codes,
                subthemes: theme.subthemes.into_iter().map(candidate).collect(),
            }
        }
        Ok(response.themes.into_iter().map(candidate).collect())
    }
}
