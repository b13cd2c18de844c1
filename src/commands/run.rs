//! `thematic run`: the whole pipeline, reports written, the run recorded.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use thematic_store::{RunRecord, StageRecord, Store};

use crate::analyse::analyse;
use crate::outcome::{count, say, Diagnostics, Outcome};
use crate::reports::write_reports;
use crate::study::{self, STATE_DIR};

pub fn run(dir: &Path) -> Result<Outcome> {
    let started_at = now();
    let mut diagnostics = Diagnostics::default();
    let study = study::load(dir, &mut diagnostics)?;
    let state = study.root.join(STATE_DIR);
    fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let mut store = Store::open(&study.store_path())?;
    let analysed = analyse(&study, Some(&store), &mut diagnostics)?;
    let written = write_reports(&study, &analysed.analysis)?;
    let outcome = diagnostics.outcome();
    store.record_run(&RunRecord {
        started_at,
        finished_at: now(),
        engine_version: env!("CARGO_PKG_VERSION").to_string(),
        config_hash: study.config_hash.clone(),
        stages: study
            .coding_stages
            .iter()
            .map(|s| StageRecord {
                name: s.name.clone(),
                strategy: s.strategy_name.clone(),
                fingerprint: s.fingerprint.clone(),
            })
            .collect(),
        transcripts: &analysed.analysis.transcripts,
        unreadable: &analysed.unreadable,
        new_codings: analysed.new_codings,
        outcome: format!("{outcome:?}"),
    })?;

    let analysis = &analysed.analysis;
    let kept = analysis.themes.iter().filter(|t| t.discarded.is_none()).count();
    say(&analysis.study);
    say(format!(
        "  transcripts: {} read, {} failed; coding: {} coded, {} reused from the store{}",
        analysis.transcripts.len(),
        analysed.unreadable.len(),
        analysed.coded,
        analysed.reused,
        if analysed.coded == 0 && analysed.reused > 0 {
            " (nothing changed)"
        } else {
            ""
        }
    ));
    say(format!(
        "  codings: {}; themes: {} kept, {} discarded; discussion areas: {}",
        analysis.codings.len(),
        kept,
        analysis.themes.len() - kept,
        analysis.areas.len()
    ));
    if !diagnostics.warnings.is_empty() || !diagnostics.failures.is_empty() {
        say(format!(
            "  {} and {}, shown above",
            count(diagnostics.warnings.len(), "warning"),
            count(diagnostics.failures.len(), "error")
        ));
    }
    for (stage, message) in &analysed.logs {
        say(format!("  log ({stage}): {message}"));
    }
    for path in &written {
        say(format!("  wrote {}", path.display()));
    }
    Ok(outcome)
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
