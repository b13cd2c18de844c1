use thematic_model::{Area, CandidateTheme, LearntAgreement, ReviewedTheme, Segment, Span, Transcript};
use thiserror::Error;

use crate::{CodingSummary, SummaryNeeds};

/// A strategy failed, or returned something the pipeline will not accept.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StrategyError {
    #[error("{0}")]
    Failed(String),
    #[error(
        "returned code `{code}`, which is not one of the codes it may return (its codebook's, or a script's `codes`)"
    )]
    UnknownCode { code: String },
    #[error("returned an empty span {start}..{end} on turn {turn}")]
    EmptySpan { turn: u32, start: usize, end: usize },
    #[error("returned a confidence of {confidence} on turn {turn}; it must be a finite number")]
    InvalidConfidence { turn: u32, confidence: f64 },
    #[error("returned turn {turn}, which it was not given to code")]
    UnknownTurn { turn: u32 },
    #[error("returned a theme named `{name}` without an id")]
    ThemeWithoutId { name: String },
    #[error("returned theme id `{id}` twice; every theme and sub-theme needs an id of its own")]
    DuplicateThemeId { id: String },
    #[error("returned span {start}..{end} outside turn {turn} ({turn_start}..{turn_end})")]
    SpanOutsideSegment {
        turn: u32,
        start: usize,
        end: usize,
        turn_start: usize,
        turn_end: usize,
    },
}

/// A code a strategy puts on a segment. Spans are code-point offsets into the
/// transcript and must lie inside the segment.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeHit {
    pub turn: u32,
    pub code: String,
    pub spans: Vec<Span>,
    pub confidence: Option<f64>,
    pub memo: Option<String>,
}

/// Phase 2: puts codes on segments. Called once per transcript with the
/// segments the stage codes (its roles), so that a strategy can use the
/// context of a whole interview and a plugin is called once per batch.
pub trait CodingStrategy: Send + Sync {
    /// The codes this strategy may return; `None` if it is not bound to a codebook.
    fn known_codes(&self) -> Option<Vec<String>>;

    /// Messages the strategy left for the run summary since the last call.
    fn take_log(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether the strategy decides on transcript `id` at all: a strategy
    /// codes every transcript, a person only those they coded. Coder
    /// agreement counts only transcripts both coders decide on.
    fn covers(&self, _id: &str) -> bool {
        true
    }

    /// For a strategy that learnt its codes from a person's codings: how far
    /// it agrees with that person, for the report.
    fn learnt(&self) -> Option<LearntAgreement> {
        None
    }

    fn code(&self, transcript: &Transcript, segments: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError>;
}

/// Phase 3: proposes candidate themes from what was coded.
pub trait ThemeGrouper: Send + Sync {
    fn group(&self, summary: &CodingSummary) -> Result<Vec<CandidateTheme>, StrategyError>;

    /// What of the coding `group` reads: the summary it is given holds that
    /// much (counting pairs of codes over a large study takes time).
    fn needs(&self) -> SummaryNeeds {
        SummaryNeeds::Cooccurrence
    }

    /// Whether `group` reads the words of the coded segments
    /// ([`CodingSummary::texts`]): finding them costs a read of every coded turn.
    fn reads_texts(&self) -> bool {
        false
    }

    /// Messages the strategy left for the run summary since the last call.
    fn take_log(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Groups the themes that survived review into discussion areas.
pub trait AreaMapper: Send + Sync {
    fn map(&self, themes: &[ReviewedTheme]) -> Result<Vec<Area>, StrategyError>;

    /// Messages the strategy left for the run summary since the last call.
    fn take_log(&self) -> Vec<String> {
        Vec::new()
    }
}
