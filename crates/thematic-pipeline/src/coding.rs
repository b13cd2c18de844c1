use std::collections::{BTreeMap, HashSet};

use thematic_model::{Coding, Segment, Transcript};

use crate::{CodeHit, CodingStrategy, StrategyError};

/// A coding stage as configured: which strategy, on which speakers' turns.
pub struct CodingStage {
    pub name: String,
    pub strategy_name: String,
    /// Changes whenever the stage could code differently: its strategy, the
    /// strategy's parameters, codebook, script or library, the roles coded,
    /// the engine version. Stored codings made under the same fingerprint from
    /// the same transcript text are reused.
    pub fingerprint: String,
    /// Roles whose turns are coded.
    pub roles: Vec<String>,
    pub strategy: Box<dyn CodingStrategy>,
}

/// Runs a coding stage on one transcript and checks what the strategy
/// returned: only turns it was given, only codes its codebook defines, only
/// spans inside their segment. Several hits on one segment with one code
/// become one coding with all their spans.
pub fn code_transcript(stage: &CodingStage, transcript: &Transcript) -> Result<Vec<Coding>, StrategyError> {
    let segments: Vec<&Segment> = transcript
        .segments
        .iter()
        .filter(|s| stage.roles.contains(&s.role))
        .collect();
    if segments.is_empty() {
        return Ok(Vec::new());
    }
    let hits = stage.strategy.code(transcript, &segments)?;
    let known: Option<HashSet<String>> = stage.strategy.known_codes().map(|codes| codes.into_iter().collect());
    let by_turn: BTreeMap<u32, &Segment> = segments.iter().map(|s| (s.turn, *s)).collect();
    let mut merged: BTreeMap<(u32, String), Coding> = BTreeMap::new();
    for hit in hits {
        check_hit(&hit, &by_turn, known.as_ref())?;
        let CodeHit {
            turn,
            code,
            spans,
            confidence,
            memo,
        } = hit;
        let coding = merged.entry((turn, code.clone())).or_insert_with(|| Coding {
            transcript: transcript.id.clone(),
            turn,
            code,
            stage: stage.name.clone(),
            strategy: stage.strategy_name.clone(),
            spans: Vec::new(),
            confidence,
            memo: None,
        });
        coding.spans.extend(spans);
        if let Some(memo) = memo {
            coding.memo = Some(match coding.memo.take() {
                Some(before) => format!("{before}\n{memo}"),
                None => memo,
            });
        }
    }
    Ok(merged
        .into_values()
        .map(|mut coding| {
            coding.spans.sort();
            coding.spans.dedup();
            coding
        })
        .collect())
}

fn check_hit(
    hit: &CodeHit,
    by_turn: &BTreeMap<u32, &Segment>,
    known: Option<&HashSet<String>>,
) -> Result<(), StrategyError> {
    let Some(segment) = by_turn.get(&hit.turn) else {
        return Err(StrategyError::UnknownTurn { turn: hit.turn });
    };
    if known.is_some_and(|codes| !codes.contains(&hit.code)) {
        return Err(StrategyError::UnknownCode { code: hit.code.clone() });
    }
    if let Some(confidence) = hit.confidence.filter(|c| !c.is_finite()) {
        return Err(StrategyError::InvalidConfidence {
            turn: hit.turn,
            confidence,
        });
    }
    for span in &hit.spans {
        if span.start >= span.end {
            return Err(StrategyError::EmptySpan {
                turn: hit.turn,
                start: span.start,
                end: span.end,
            });
        }
        if span.start < segment.start || span.end > segment.end {
            return Err(StrategyError::SpanOutsideSegment {
                turn: hit.turn,
                start: span.start,
                end: span.end,
                turn_start: segment.start,
                turn_end: segment.end,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{transcript_from_text, RoleMap};
    use thematic_model::Span;

    struct Fixed(Vec<CodeHit>);

    impl CodingStrategy for Fixed {
        fn known_codes(&self) -> Option<Vec<String>> {
            Some(vec!["a".into(), "b".into()])
        }
        fn code(&self, _: &Transcript, _: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError> {
            Ok(self.0.clone())
        }
    }

    fn hit(turn: u32, code: &str, start: usize, end: usize) -> CodeHit {
        CodeHit {
            turn,
            code: code.into(),
            spans: vec![Span { start, end }],
            confidence: None,
            memo: None,
        }
    }

    fn run(hits: Vec<CodeHit>) -> Result<Vec<Coding>, StrategyError> {
        let roles = RoleMap::new(&[("Interviewer".to_string(), "interviewer".to_string())].into());
        let (transcript, _) = transcript_from_text("t", "Interviewer: q\nP1: answer one\n", "h", Some("P1"), &roles);
        let stage = CodingStage {
            name: "stage".into(),
            strategy_name: "fixed".into(),
            fingerprint: "f".into(),
            roles: vec!["participant".into()],
            strategy: Box::new(Fixed(hits)),
        };
        code_transcript(&stage, &transcript)
    }

    #[test]
    fn hits_on_one_segment_and_code_merge() {
        let codings = run(vec![hit(2, "a", 19, 25), hit(2, "a", 15, 17), hit(2, "b", 15, 17)]).unwrap();
        assert_eq!(codings.len(), 2);
        assert_eq!(
            codings[0].spans,
            vec![Span { start: 15, end: 17 }, Span { start: 19, end: 25 }]
        );
        assert_eq!(
            (codings[0].stage.as_str(), codings[0].transcript.as_str()),
            ("stage", "t")
        );
    }

    #[test]
    fn strategies_are_held_to_their_turns_codes_and_spans() {
        assert_eq!(
            run(vec![hit(1, "a", 0, 1)]),
            Err(StrategyError::UnknownTurn { turn: 1 }),
            "interviewer turns are not given"
        );
        assert_eq!(
            run(vec![hit(2, "zzz", 15, 16)]),
            Err(StrategyError::UnknownCode { code: "zzz".into() })
        );
        assert!(matches!(
            run(vec![hit(2, "a", 15, 99)]),
            Err(StrategyError::SpanOutsideSegment { .. })
        ));
    }
}
