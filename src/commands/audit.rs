//! `thematic audit`: the outputs and the store searched for every entry of
//! the study's redaction list (see `thematic_engine::audit`).

use std::path::Path;

use anyhow::Result;
use thematic_engine::audit::audit;

use crate::outcome::{count, say, Diagnostics, Outcome};

pub fn run(dir: &Path) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let audited = audit(dir, &mut diagnostics)?;
    let mut summary = format!(
        "audited {}: {}",
        count(audited.files, "file"),
        match audited.findings {
            0 => "no entry of the redaction list found".to_string(),
            n => format!("{}, shown above", count(n, "finding")),
        }
    );
    if audited.not_audited > 0 {
        summary += &format!("; {} not audited, shown above", count(audited.not_audited, "file"));
    }
    say(summary);
    Ok(diagnostics.outcome())
}
