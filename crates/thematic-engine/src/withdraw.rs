//! A participant withdraws consent (`thematic withdraw`). Their transcripts
//! leave the study folder (moved where the user says, or deleted), their row
//! leaves the participants file, and the run that follows takes their
//! segments, codings and extracts out of the store and every report; the
//! store is then purged, so that nothing of them is left in its files.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use thematic_pipeline::{without_participant, without_participant_toml};

use crate::diagnostics::{count, Diagnostics};
use crate::files::write_atomic;
use crate::plan::{is_toml, plan_folder, transcript_matcher, Plan};
use crate::reports::ALL_REPORTS;
use crate::run::execute;
use crate::session::Session;

/// What happens to a withdrawn participant's transcripts.
pub enum Removal {
    MoveTo(PathBuf),
    Delete,
}

/// Withdraws `participant` from the study in `dir`; `tell` hears each step
/// as it is done (a file moved, the row removed), and the last line says
/// what was withdrawn. An error stops before what is left undone.
pub fn withdraw(
    participant: &str,
    dir: &Path,
    removal: Removal,
    diagnostics: &mut Diagnostics,
    tell: &mut dyn FnMut(String),
) -> Result<()> {
    let plan = plan_folder(dir, diagnostics)?;
    let theirs: Vec<(String, PathBuf)> = plan
        .transcripts
        .iter()
        .filter(|(id, _)| plan.participant_of(id) == participant)
        .cloned()
        .collect();
    let participants_file = plan.config.study.participants.as_ref().map(|p| plan.root.join(&p.file));
    let participants_text = match &participants_file {
        Some(file) => Some(fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?),
        None => None,
    };
    let without_row = participants_text
        .as_deref()
        .and_then(|text| match participants_file.as_deref() {
            Some(file) if is_toml(file) => without_participant_toml(text, participant),
            _ => without_participant(text, participant),
        });
    if theirs.is_empty() && without_row.is_none() {
        // Perhaps an earlier withdraw stopped after moving the files: finish it.
        diagnostics.warn(format!(
            "{}: participant `{participant}` has no transcript and no row in the participants file \
             (withdrawn already, or another id?); the store is purged all the same",
            plan.root.display()
        ));
    }
    if plan
        .config
        .study
        .transcripts
        .participants
        .values()
        .any(|p| p == participant)
    {
        diagnostics.warn(format!(
            "{}: [transcripts] participants still names `{participant}`; remove those lines",
            plan.config.file
        ));
    }

    if let Removal::MoveTo(folder) = &removal {
        check_destination(&plan, folder, &theirs)?;
    }
    for (id, path) in &theirs {
        match &removal {
            Removal::MoveTo(folder) => {
                let target = folder.join(id);
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
                }
                move_file(path, &target)?;
                tell(format!("moved {id} to {}", target.display()));
            }
            Removal::Delete => {
                fs::remove_file(path).with_context(|| format!("deleting {}", path.display()))?;
                tell(format!("deleted {id}"));
            }
        }
    }
    if let (Some(file), Some(text)) = (&participants_file, &without_row) {
        write_atomic(file, text.as_bytes())?;
        tell(format!("removed `{participant}` from {}", file.display()));
    }

    let mut session = Session::new(&plan.root)?;
    let executed = execute(&mut session, diagnostics)?;
    if let Some(left) = executed
        .analysis
        .transcripts
        .iter()
        .find(|t| t.participant.as_deref() == Some(participant))
    {
        bail!(
            "{}: a transcript of `{participant}` is still in the study; move it out and run `thematic withdraw` again",
            left.id
        );
    }
    let stale: Vec<PathBuf> = ALL_REPORTS
        .iter()
        .map(|name| plan.output_dir().join(name))
        .filter(|path| path.is_file() && !executed.written.paths.contains(path))
        .collect();
    for path in &stale {
        fs::remove_file(path).with_context(|| format!("deleting the old report {}", path.display()))?;
    }
    session.study_and_store()?.1.purge()?;
    crate::kept_embeddings::forget_all(&plan.root)?;
    tell(format!(
        "`{participant}` withdrawn: {} out of the study; the store purged; {} rewritten{}",
        count(theirs.len(), "transcript"),
        count(executed.written.paths.len(), "report"),
        if stale.is_empty() {
            String::new()
        } else {
            format!(" and {} from earlier settings deleted", count(stale.len(), "report"))
        }
    ));
    Ok(())
}

/// A destination the study would read again, or that already holds one of
/// the files, is refused before anything moves.
fn check_destination(plan: &Plan, folder: &Path, theirs: &[(String, PathBuf)]) -> Result<()> {
    if let Some(taken) = theirs
        .iter()
        .map(|(id, _)| folder.join(id))
        .find(|target| target.exists())
    {
        bail!("{} already exists; choose another folder", taken.display());
    }
    let root = plan.root.canonicalize().unwrap_or_else(|_| plan.root.clone());
    let absolute = if folder.is_absolute() {
        folder.to_path_buf()
    } else {
        std::env::current_dir()
            .context("finding the current folder")?
            .join(folder)
    };
    // The folder may not exist yet: canonicalise what of it does.
    let existing = absolute
        .ancestors()
        .find_map(|a| a.canonicalize().ok().map(|real| (a, real)));
    let absolute = match existing {
        Some((found, real)) => real.join(absolute.strip_prefix(found).unwrap_or(Path::new(""))),
        None => absolute,
    };
    if let Ok(inside) = absolute.strip_prefix(&root) {
        let included = transcript_matcher(&plan.config)?;
        if theirs.iter().any(|(id, _)| included.is_match(inside.join(id))) {
            bail!(
                "{}: the study would read the transcripts again from there; choose a folder its `include` patterns do not match",
                folder.display()
            );
        }
    }
    Ok(())
}

/// Renames, or copies and deletes where the destination is on another file system.
fn move_file(from: &Path, to: &Path) -> Result<()> {
    if fs::rename(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    fs::remove_file(from).with_context(|| format!("deleting {} after copying it", from.display()))
}
