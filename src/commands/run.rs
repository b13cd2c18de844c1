//! `thematic run`: the whole pipeline, reports written, the run recorded.

use std::path::Path;

use anyhow::Result;
use thematic_engine::files::write_atomic;
use thematic_engine::reports::HTML_REPORT;
use thematic_engine::run::{execute, Executed};
use thematic_engine::session::Session;
use thematic_engine::study::Study;
use thematic_report::html_report;

use crate::outcome::{count, say, Diagnostics, Outcome};

pub fn run(dir: &Path) -> Result<Outcome> {
    run_then(dir, |_, _, _| ())
}

/// `thematic report`: a run that writes `report.html` whatever `[outputs]`
/// says, and opens it when asked.
pub fn report(dir: &Path, open: bool) -> Result<Outcome> {
    run_then(dir, |executed, study, diagnostics| {
        let page = study.plan.output_dir().join(HTML_REPORT);
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
fn run_then(dir: &Path, after: impl FnOnce(&Executed, &Study, &mut Diagnostics)) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let mut session = Session::new(dir)?;
    let executed = execute(&mut session, &mut diagnostics)?;
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
    if let Some(study) = session.study() {
        after(&executed, study, &mut diagnostics);
    }
    // The process ends here: freeing every transcript and coding one by one
    // would only make the user wait. (The study itself is dropped, so that
    // isolated plugins' processes are told to finish.)
    std::mem::forget(executed.analysis);
    Ok(diagnostics.outcome())
}
