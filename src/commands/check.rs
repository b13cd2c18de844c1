//! `thematic check`: validates a study without running it.

use std::path::Path;

use anyhow::Result;

use crate::outcome::{count, say, Diagnostics, Outcome};
use thematic_engine::analyse::read_transcripts;
use thematic_engine::study;

pub fn run(dir: &Path) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let study = study::load(dir, &mut diagnostics)?;
    let transcripts = read_transcripts(&study, &mut diagnostics);
    let segments: usize = transcripts.iter().map(|t| t.segments.len()).sum();
    let outcome = diagnostics.outcome();
    say(format!(
        "{}: {} — {} ({}), {}, {}, {}, {}; {}, {}",
        study.root.display(),
        if outcome == Outcome::Success {
            "ok"
        } else {
            "problems found"
        },
        count(transcripts.len(), "transcript"),
        count(segments, "segment"),
        count(study.participants.len(), "participant"),
        count(study.coding_stages.len(), "coding stage"),
        count(study.config.all_themes().len(), "theme"),
        count(study.config.study.areas.len(), "discussion area"),
        count(diagnostics.warnings.len(), "warning"),
        count(diagnostics.failures.len(), "error"),
    ));
    Ok(outcome)
}
