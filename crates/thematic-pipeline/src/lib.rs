//! The analysis itself, as functions of their inputs.
//!
//! Each stage kind has one small trait, so that builtins, Lua scripts and
//! native plugins stand in the same place: [`CodingStrategy`] (phase 2),
//! [`ThemeGrouper`] (phase 3) and [`AreaMapper`]. Review (phase 4), extracts
//! (phase 5) and the checks of what strategies return belong to the pipeline,
//! not to the strategies, so every strategy is held to the same rules.
//!
//! This crate does no IO: files are read and the store is consulted by the shell.

mod agreement;
mod annotations;
mod areas;
mod builtin;
mod changes;
mod coding;
mod decisions;
mod digest;
mod memos;
mod participants;
mod redaction;
mod review;
mod segments;
mod strategy;
mod summary;
#[cfg(test)]
mod test_support;

pub use agreement::{transcript_decisions, Decisions, TranscriptDecisions};
pub use annotations::{Annotations, DEFAULT_ANNOTATIONS};
pub use areas::map_areas;
pub use builtin::{
    area_mapper, coding_strategy, parse_params, theme_grouper, BuildError, CoderStrategy, CodingsFile, DefinedAreas,
    DefinedThemes, DictionaryStrategy, RegexStrategy,
};
pub use changes::{analysis_changes, AnalysisChanges, Outline};
pub use coding::{code_transcript, CodingStage};
pub use decisions::{Decided, DecisionsFile, Placement};
pub use digest::digest;
pub use memos::{read_memos, MemoSubjects};
pub use participants::{participants_from_csv, participants_from_toml, without_participant, without_participant_toml};
pub use redaction::{fold, RedactionEntry, Redactor};
pub use review::{check_candidates, review_themes, ReviewRule};
pub use segments::{segmentation_warning, transcript_from_text, transcript_from_turns, RoleMap, PREAMBLE_ROLE};
pub use strategy::{AreaMapper, CodeHit, CodingStrategy, StrategyError, ThemeGrouper};
pub use summary::{
    code_document_matrix, document_name, CodeSummary, CodedText, CodingSummary, Cooccurrence, SummaryNeeds,
};
pub use thematic_model::Unit;
