//! `thematic watch`: keeps a study's outputs current while transcripts
//! arrive and change and scripts, codebooks and the configuration are edited.
//!
//! Each batch of settled changes runs the pipeline as `thematic run` does, so
//! only what changed is coded again (the store holds the rest). A batch that
//! cannot run (a configuration or script error) is reported and the last good
//! outputs stay in place; the next good save recovers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use thematic_pipeline::{analysis_changes, Outline};
use thematic_report::html_report;
use thematic_watch::{StudyWatcher, WatchOptions};

use crate::outcome::{count, say, Diagnostics, Outcome};
use thematic_engine::desk::Desk;
use thematic_engine::layout::STATE_DIR;
use thematic_engine::run::{execute, Executed};
use thematic_engine::session::Session;
use thematic_engine::source::transcript_id;
use thematic_live::{LiveReport, Workbench};
use thematic_model::{Decision, DeskError, DeskOutline, MemoChange, Saved, ThemeChange, TranscriptView};

/// How often `--poll` looks at the file system.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The folder reports go to before a configuration says otherwise.
const DEFAULT_OUTPUT_DIR: &str = "reports";

/// `--serve`: where to serve the live report, whether to open it, and
/// whose decisions its workbench saves.
pub struct Serve {
    pub port: u16,
    pub open: bool,
    pub coder: Option<String>,
}

/// The workbench page asks the study's desk.
struct OnDesk(Arc<Desk>);

impl Workbench for OnDesk {
    fn outline(&self) -> DeskOutline {
        self.0.outline()
    }

    fn transcript(&self, id: &str) -> Result<TranscriptView, DeskError> {
        self.0.transcript(id)
    }

    fn decide(&self, decision: Decision) -> Result<Saved, DeskError> {
        self.0.decide(decision)
    }

    fn write_memo(&self, change: MemoChange) -> Result<Saved, DeskError> {
        self.0.write_memo(change)
    }

    fn shape_themes(&self, change: ThemeChange) -> Result<Saved, DeskError> {
        self.0.shape_themes(change)
    }
}

/// Who the workbench saves for when `--coder` does not say: the login name.
fn login_name() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "coder".into())
}

pub fn watch(dir: &Path, poll: bool, debounce: Duration, serve: Option<Serve>) -> Result<Outcome> {
    let root = dir
        .canonicalize()
        .with_context(|| format!("{}: no such study folder", dir.display()))?;
    let options = WatchOptions {
        debounce,
        poll: poll.then_some(POLL_INTERVAL),
    };
    let desk = match &serve {
        Some(serve) => {
            let coder = serve.coder.clone().unwrap_or_else(login_name);
            Some(Arc::new(
                Desk::new(&root, &coder).map_err(|e| anyhow::anyhow!("--coder: {e}"))?,
            ))
        }
        None => None,
    };
    // The port is taken first: a taken port stops the command before anything else starts.
    let live = serve
        .as_ref()
        .map(|serve| {
            let workbench = desk
                .as_ref()
                .map(|desk| Arc::new(OnDesk(Arc::clone(desk))) as Arc<dyn Workbench>);
            LiveReport::start(serve.port, workbench)
        })
        .transpose()?;
    // Watching starts before the first pass, so that nothing saved meanwhile is missed.
    let mut watcher = StudyWatcher::start(&root, options)?;
    say(format!(
        "watching {}{} (Ctrl-C to stop)",
        root.display(),
        if poll { ", polling" } else { "" }
    ));
    // Kept while watching: the browser may read it late.
    let _doorway = live.as_ref().and_then(|live| {
        say(format!("serving the report at {} (this machine only)", live.url()));
        say(format!("the workbench, to code and review, at {}work", live.url()));
        if !serve.is_some_and(|serve| serve.open) {
            return None;
        }
        live.open_in_browser()
            .map_err(|error| eprintln!("warning: {error:#}; open {} by hand", live.url()))
            .ok()
    });
    let mut session = Watching {
        own: own_folders(&root, &root.join(DEFAULT_OUTPUT_DIR)),
        session: Session::new(&root)?,
        root,
        batches: 0,
        last: None,
        live,
        desk,
    };
    session.pass("start");
    loop {
        let batch = watcher.next_batch(|path| session.own.iter().any(|own| path.starts_with(own)))?;
        tracing::debug!(paths = ?batch.paths, rescan = batch.rescan, "batch");
        for error in &batch.errors {
            eprintln!("warning: watching {}: {error}", session.root.display());
        }
        for path in &batch.paths {
            if let Ok(relative) = path.strip_prefix(&session.root) {
                session.session.carried.forget_path(&transcript_id(relative));
            }
        }
        if batch.rescan {
            session.session.carried.forget_files();
            session.pass("events may have been lost; everything compared by content");
        } else if !batch.paths.is_empty() {
            session
                .session
                .keep_plan_after(batch.paths.iter().map(PathBuf::as_path));
            session.pass(&format!("{} changed", count(batch.paths.len(), "file")));
        }
    }
}

/// A watch in progress: the study's session, and what the batches so far said.
struct Watching {
    root: PathBuf,
    /// Folders thematic itself writes to: changes there are not the user's.
    own: Vec<PathBuf>,
    batches: usize,
    /// The last analysis that ran, to say what each batch changed.
    last: Option<Outline>,
    /// The study planned, its stages running and what the last pass read and
    /// coded, so that the next starts and does only what changed.
    session: Session,
    /// The report served to open pages, with `--serve`.
    live: Option<LiveReport>,
    /// What the served workbench shows and where it saves, with `--serve`.
    desk: Option<Arc<Desk>>,
}

impl Watching {
    fn pass(&mut self, what: &str) {
        self.batches += 1;
        let mut diagnostics = Diagnostics::default();
        // A pass that fails before it reads anything (a configuration or script
        // error) leaves what was carried for the next.
        match execute(&mut self.session, &mut diagnostics) {
            Ok(executed) => {
                if let Some(study) = self.session.study() {
                    self.own = own_folders(&self.root, &study.plan.output_dir());
                }
                let outline = Outline::of(&executed.analysis);
                let summary = self.summarise(&executed, &outline, &diagnostics);
                if let (Some(desk), Some(study)) = (&self.desk, self.session.study()) {
                    desk.refresh(&study.plan, &executed.analysis);
                }
                // The page has the new report by the time the batch is said to be done.
                if let Some(live) = &self.live {
                    let html = match &executed.written.page {
                        Some(page) => page.clone(),
                        None => html_report(&executed.analysis, &executed.provenance),
                    };
                    live.publish(html, executed.provenance.written_at.clone(), summary.clone());
                }
                say(format!(
                    "batch {} ({what}): updated in {} ms",
                    self.batches,
                    executed.took.as_millis()
                ));
                for line in &summary {
                    say(format!("  {line}"));
                }
                self.last = Some(outline);
                self.session.carry(executed.analysis, executed.keys);
            }
            Err(error) => {
                eprintln!("error: {error:#}");
                if let Some(live) = &self.live {
                    live.failed(format!("{error:#}"));
                }
                say(format!(
                    "batch {} ({what}): not updated; the last good outputs stay in place until the next good save",
                    self.batches
                ));
            }
        }
    }

    /// What the pass did, as lines: the analysis's size after the first
    /// pass, what changed after the others.
    fn summarise(&self, executed: &Executed, outline: &Outline, diagnostics: &Diagnostics) -> Vec<String> {
        let analysis = &executed.analysis;
        let mut lines = Vec::new();
        match &self.last {
            None => {
                let kept = analysis.themes.iter().filter(|t| t.discarded.is_none()).count();
                lines.push(format!(
                    "{}, {}; themes: {kept} kept, {} discarded",
                    count(analysis.transcripts.len(), "transcript"),
                    count(analysis.transcripts.iter().map(|t| t.codings).sum(), "coding"),
                    analysis.themes.len() - kept
                ));
            }
            Some(last) => {
                let changes = analysis_changes(last, outline);
                for (verb, ids) in [
                    ("added", &changes.added),
                    ("changed", &changes.changed),
                    ("removed", &changes.removed),
                ] {
                    if !ids.is_empty() {
                        lines.push(format!("transcripts {verb}: {}", ids.join(", ")));
                    }
                }
                lines.extend(changes.themes.iter().cloned());
                if changes.is_empty() && executed.segments_coded == 0 {
                    lines.push("no change to the analysis".into());
                }
                // Stages keep running between batches; one whose script, library or settings changed starts again.
                if !self.session.started.is_empty() {
                    let named: Vec<String> = self.session.started.iter().map(|name| format!("`{name}`")).collect();
                    lines.push(format!("stages started again: {}", named.join(", ")));
                }
            }
        }
        if executed.segments_coded > 0 {
            lines.push(format!("coding: {} coded", count(executed.segments_coded, "segment")));
        }
        if !diagnostics.failures.is_empty() {
            lines.push(format!(
                "{}, shown in the output of thematic watch",
                count(diagnostics.failures.len(), "error")
            ));
        }
        lines
    }
}

fn own_folders(root: &Path, outputs: &Path) -> Vec<PathBuf> {
    vec![root.join(STATE_DIR), outputs.to_path_buf()]
}
