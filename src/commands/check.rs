//! `thematic check`: validates a study without running it.

use std::path::Path;

use anyhow::Result;

use crate::analyse::read_transcripts;
use crate::outcome::{Diagnostics, Outcome};
use crate::study;

pub fn run(dir: &Path) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let study = study::load(dir, &mut diagnostics)?;
    let transcripts = read_transcripts(&study, &mut diagnostics).transcripts;
    let segments: usize = transcripts.iter().map(|t| t.segments.len()).sum();
    let outcome = diagnostics.outcome();
    println!(
        "{}: {} — {} transcripts ({} segments), {} participants, {} coding stage(s), {} theme(s), {} discussion area(s); {} warning(s), {} error(s)",
        study.root.display(),
        if outcome == Outcome::Success { "ok" } else { "problems found" },
        transcripts.len(),
        segments,
        study.participants.len(),
        study.coding_stages.len(),
        study.config.study.themes.len(),
        study.config.study.areas.len(),
        diagnostics.warnings.len(),
        diagnostics.failures.len(),
    );
    Ok(outcome)
}
