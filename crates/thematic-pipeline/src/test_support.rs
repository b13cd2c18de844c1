//! Values the unit tests of several stages build alike.

use thematic_model::Coding;

/// A bare coding of `code` on a turn, as any coding stage could make it.
pub fn coding(transcript: &str, turn: u32, code: &str) -> Coding {
    Coding {
        transcript: transcript.into(),
        turn,
        code: code.into(),
        stage: "s".into(),
        strategy: "x".into(),
        spans: vec![],
        confidence: None,
        memo: None,
    }
}
