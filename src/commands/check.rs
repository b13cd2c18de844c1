//! `thematic check`: validates a study without running it. It stops at the
//! plan: no script runs and no plugin is loaded or started.

use std::path::Path;

use anyhow::Result;
use thematic_engine::plan::plan_folder;
use thematic_engine::reading::read_transcripts;

use crate::outcome::{count, say, Diagnostics, Outcome};

pub fn run(dir: &Path) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let plan = plan_folder(dir, &mut diagnostics)?;
    let transcripts = read_transcripts(&plan, &mut diagnostics);
    let segments: usize = transcripts.iter().map(|t| t.segments.len()).sum();
    let outcome = diagnostics.outcome();
    say(format!(
        "{}: {} — {} ({}), {}, {}, {}, {}; {}, {}",
        plan.root.display(),
        if outcome == Outcome::Success {
            "ok"
        } else {
            "problems found"
        },
        count(transcripts.len(), "transcript"),
        count(segments, "segment"),
        count(plan.participants.len(), "participant"),
        count(plan.coding_stages().count(), "coding stage"),
        count(plan.config.all_themes().len(), "theme"),
        count(plan.config.study.areas.len(), "discussion area"),
        count(diagnostics.warnings.len(), "warning"),
        count(diagnostics.failures.len(), "error"),
    ));
    Ok(outcome)
}
