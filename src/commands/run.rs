//! `thematic run`: the whole pipeline, reports written, the run recorded.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use thematic_model::{Analysis, Transcript};
use thematic_report::{html_report, Provenance};
use thematic_store::{CurrentTranscript, FileStamp, RunRecord, StageRecord, Store};

use crate::analyse::{analyse, Carried};
use crate::commands::agree::compare;
use crate::files::write_atomic;
use crate::outcome::{count, say, Diagnostics, Outcome};
use crate::reports::{provenance, write_reports, Written, HTML_REPORT};
use crate::study::{self, Study, STATE_DIR};

pub fn run(dir: &Path) -> Result<Outcome> {
    run_then(dir, |_, _| ())
}

/// `thematic report`: a run that writes `report.html` whatever `[outputs]`
/// says, and opens it when asked.
pub fn report(dir: &Path, open: bool) -> Result<Outcome> {
    run_then(dir, |executed, diagnostics| {
        let page = executed.study.output_dir().join(HTML_REPORT);
        if executed.written.page.is_none() {
            let html = html_report(&executed.analysis, &executed.provenance);
            if let Err(error) = write_atomic(&page, html.as_bytes()) {
                diagnostics.fail(format!("{error:#}"));
                return;
            }
            say(format!("  wrote {}", page.display()));
        }
        if open {
            let page = std::path::absolute(&page).unwrap_or(page);
            match opener::open_browser(&page) {
                Ok(()) => say(format!("  opened {}", page.display())),
                Err(error) => eprintln!(
                    "warning: opening {} in a browser: {error}; the report is written, open it by hand",
                    page.display()
                ),
            }
        }
    })
}

/// Runs the study, says what the run did, then does `after` with it.
fn run_then(dir: &Path, after: impl FnOnce(&Executed, &mut Diagnostics)) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let executed = execute(dir, &mut Carried::default(), &mut diagnostics)?;
    let analysis = &executed.analysis;
    let kept = analysis.themes.iter().filter(|t| t.discarded.is_none()).count();
    say(&analysis.study);
    say(format!(
        "  transcripts: {} ({} read, the rest unchanged), {} failed; coding: {} coded, {} reused from the store{}",
        analysis.transcripts.len(),
        executed.read,
        executed.unreadable,
        executed.coded,
        executed.reused,
        if executed.coded == 0 && executed.reused > 0 {
            " (nothing changed)"
        } else {
            ""
        }
    ));
    say(format!(
        "  codings: {}; themes: {} kept, {} discarded; discussion areas: {}",
        analysis.transcripts.iter().map(|t| t.codings).sum::<usize>(),
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
    for (stage, message) in &executed.logs {
        say(format!("  log ({stage}): {message}"));
    }
    for path in &executed.written.paths {
        say(format!("  wrote {}", path.display()));
    }
    after(&executed, &mut diagnostics);
    // The process ends here: freeing every transcript and coding one by one
    // would only make the user wait. (The study itself is dropped, so that
    // isolated plugins' processes are told to finish.)
    std::mem::forget(executed.analysis);
    Ok(diagnostics.outcome())
}

/// What one pass of the pipeline did.
pub struct Executed {
    pub study: Study,
    pub analysis: Analysis,
    /// (transcript, stage) pairs coded afresh and taken from the store.
    pub coded: usize,
    pub reused: usize,
    /// Segments of the transcripts coded afresh.
    pub segments_coded: usize,
    /// Transcripts read from their files; the others were unchanged.
    pub read: usize,
    pub unreadable: usize,
    pub logs: Vec<(String, String)>,
    pub written: Written,
    /// What made the reports, and when they were written.
    pub provenance: Provenance,
    /// Each transcript's digest key and file stamp, in the analysis's order.
    pub keys: Vec<(String, Option<FileStamp>)>,
}

/// Loads the study in `dir`, analyses it (reusing stored codings), writes
/// the reports and records the run. An error is a configuration error:
/// nothing was written.
/// `carried`: what an earlier pass of a long-running session left; what this
/// pass reuses is taken out of it.
pub fn execute(dir: &Path, carried: &mut Carried, diagnostics: &mut Diagnostics) -> Result<Executed> {
    let started_at = now();
    let study = study::load(dir, diagnostics)?;
    let state = study.root.join(STATE_DIR);
    fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let mut store = Store::open(&study.store_path())?;
    // Under redaction, text the store lets go of is overwritten, not left in free pages.
    let redaction_changed = match &study.redaction {
        Some(_) => {
            store.overwrite_deleted()?;
            store.last_config_hash()?.as_deref() != Some(study.config_hash.as_str())
        }
        None => false,
    };
    let mut analysed = analyse(&study, Some(&store), carried, diagnostics)?;
    for pair in &study.config.study.agreement {
        if let [first, second] = pair.coders.get_ref().as_slice() {
            // Each transcript's problems were shown by the analysis already.
            let agreement = compare(&study, first, second, pair.unit, &mut Diagnostics::quiet())?;
            analysed.analysis.agreements.push(agreement);
        }
    }
    if redaction_changed {
        // What could not be read under the new list still holds text from before it.
        store.forget_transcripts(&analysed.unreadable)?;
    }
    let provenance = provenance(&study);
    let written = write_reports(&study, &analysed.analysis, &provenance)?;
    let read: HashMap<&str, &Transcript> = analysed.read.iter().map(|t| (t.id.as_str(), t)).collect();
    let current: Vec<CurrentTranscript> = analysed
        .analysis
        .transcripts
        .iter()
        .zip(&analysed.keys)
        .map(|(digest, (key, file))| CurrentTranscript {
            digest,
            digest_key: key,
            file: *file,
            read: read.get(digest.id.as_str()).copied(),
        })
        .collect();
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
        transcripts: &current,
        unreadable: &analysed.unreadable,
        new_codings: analysed.new_codings,
        outcome: format!("{:?}", diagnostics.outcome()),
    })?;
    if let Some(redaction) = &study.redaction {
        write_key(&redaction.key, &redaction.redactor.key_csv())?;
        // A new list, or a first one, may leave names from before it anywhere in the file.
        if redaction_changed {
            store.purge()?;
        } else {
            store.checkpoint()?;
        }
    }
    Ok(Executed {
        study,
        analysis: analysed.analysis,
        coded: analysed.coded,
        reused: analysed.reused,
        segments_coded: analysed.segments_coded,
        read: analysed.files_read,
        unreadable: analysed.unreadable.len(),
        logs: analysed.logs,
        written,
        provenance,
        keys: analysed.keys,
    })
}

/// Writes the redaction key where the study says, when it changed.
fn write_key(path: &Path, key: &str) -> Result<()> {
    if fs::read_to_string(path).is_ok_and(|old| old == key) {
        return Ok(());
    }
    write_atomic(path, key.as_bytes()).with_context(|| format!("writing the redaction key {}", path.display()))
}

/// The time now, RFC 3339 in UTC, as runs and reports record it.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
