//! One run of a study: analysed, its reports written, the run recorded.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use thematic_model::{Analysis, Coding, Extract, ReviewedTheme, Transcript};
use thematic_pipeline::CodingStage;
use thematic_report::Provenance;
use thematic_store::{CurrentTranscript, FileStamp, RunRecord, Store};

use crate::agreement::compare;
use crate::analyse::{analyse, stage_record, Analysed};
use crate::clock::now;
use crate::diagnostics::Diagnostics;
use crate::files::write_atomic;
use crate::reports::{provenance, write_reports, Written};
use crate::served::Served;
use crate::session::Session;
use crate::study::Study;

/// Makes `thematic.lock` pin exactly the models the study's stages ran: new
/// ones pinned, and those no stage names any more let go, so that a name
/// freed in `thematic.toml` may later name another model. Written only if
/// that changes it, so that a watched study is not woken by its own lock.
fn pin_models(study: &Study) -> Result<()> {
    let root = &study.plan.root;
    let mut lock = crate::packs::read_lock(root)?;
    let by_name = |a: &thematic_packs::LockedModel, b: &thematic_packs::LockedModel| a.name.cmp(&b.name);
    let mut models = study.plan.models.clone();
    models.sort_by(by_name);
    lock.models.sort_by(by_name);
    if lock.models == models {
        return Ok(());
    }
    lock.models = models;
    crate::packs::write_lock(root, &lock)
}

/// Each extract's codes explained where a stage coding by meaning put them:
/// the coding's score and, learnt from a person, their examples nearest to
/// it (the coding's memo). Other strategies' codings explain nothing more
/// than their code: a study without such a stage has none to explain.
fn explained_themes(study: &Study, served: &Served, themes: &[ReviewedTheme]) -> Option<Vec<ReviewedTheme>> {
    let explaining: Vec<&CodingStage> = study
        .stages
        .coding
        .iter()
        .filter(|s| s.strategy_name == "semantic")
        .collect();
    if explaining.is_empty() {
        return None;
    }
    let mut themes = themes.to_vec();
    let mut codings: HashMap<String, Vec<Coding>> = HashMap::new();
    for_each_extract(&mut themes, &mut |extract| {
        let of_transcript = codings.entry(extract.transcript.clone()).or_insert_with(|| {
            // A transcript that cannot be served now was reported by the pass; its extracts go unexplained.
            let Ok(transcript) = served.transcript(&extract.transcript) else {
                return Vec::new();
            };
            explaining
                .iter()
                .flat_map(|stage| served.codings(&transcript, stage).unwrap_or_default())
                .collect()
        });
        extract.why = of_transcript
            .iter()
            .filter(|c| c.turn == extract.turn && extract.codes.contains(&c.code))
            .filter_map(|c| {
                let memo = c.memo.as_ref().map(|memo| format!("; {memo}")).unwrap_or_default();
                Some(format!("{}: {} {:.2}{memo}", c.stage, c.code, c.confidence?))
            })
            .collect();
    });
    Some(themes)
}

fn for_each_extract(themes: &mut [ReviewedTheme], explain: &mut dyn FnMut(&mut Extract)) {
    for theme in themes {
        theme.extracts.iter_mut().for_each(&mut *explain);
        for_each_extract(&mut theme.subthemes, explain);
    }
}

/// What one pass of the pipeline did.
pub struct Executed {
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
    /// How long the pass took, from planning to the run recorded.
    pub took: std::time::Duration,
}

/// Plans the session's study again (starting only stages whose start key
/// changed), analyses it (reusing stored codings and what the session
/// carried from its last pass), writes the reports and records the run (a
/// pass whose reports could not be written is not recorded). A configuration
/// error stops it before anything is written.
pub fn execute(session: &mut Session, diagnostics: &mut Diagnostics) -> Result<Executed> {
    let started_at = now();
    let started = std::time::Instant::now();
    session.plan(diagnostics)?;
    let mut carried = std::mem::take(&mut session.carried);
    let mut cache = std::mem::take(&mut session.agreements);
    let (study, store) = session.study_and_store()?;
    // Under redaction, text the store lets go of is overwritten, not left in free pages.
    let redaction_changed = match &study.plan.redaction {
        Some(_) => {
            store.overwrite_deleted()?;
            store.last_config_hash()?.as_deref() != Some(study.plan.config_hash.as_str())
        }
        None => false,
    };
    let mut analysed = analyse(study, Some(store), &mut carried, diagnostics)?;
    let mut agreements = Vec::new();
    let served = Served::new(study, Some(store), &analysed);
    for wanted in &study.plan.config.study.agreement {
        if let [first, second] = wanted.coders.get_ref().as_slice() {
            let coders = (first.as_str(), second.as_str());
            let transcripts = &analysed.analysis.transcripts;
            // Each transcript's problems were shown by the analysis already.
            let quiet = &mut Diagnostics::quiet();
            agreements.push(compare(
                study,
                &served,
                transcripts,
                coders,
                wanted.unit,
                &mut cache,
                quiet,
            )?);
        }
    }
    let explained = explained_themes(study, &served, &analysed.analysis.themes);
    analysed.analysis.agreements = agreements;
    if let Some(themes) = explained {
        analysed.analysis.themes = themes;
    }
    if redaction_changed {
        // What could not be read under the new list still holds text from before it.
        store.forget_transcripts(&analysed.unreadable)?;
    }
    let provenance = provenance(study);
    let written = write_reports_and_record(study, store, &analysed, &provenance, started_at, diagnostics)?;
    if let Some(redaction) = &study.plan.redaction {
        write_key(&redaction.key, &redaction.redactor.key_csv())?;
        // A new list, or a first one, may leave names from before it anywhere in the file.
        if redaction_changed {
            store.purge()?;
            crate::kept_embeddings::forget_all(&study.plan.root)?;
        } else {
            store.checkpoint()?;
        }
    }
    // Last: a lock that cannot be written must not keep a new redaction list's purge from running.
    pin_models(study)?;
    session.agreements = cache;
    Ok(Executed {
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
        took: started.elapsed(),
    })
}

/// Plans the session's study and makes its analysis as a run would, from
/// the store where that is current, writing nothing: what exports and the
/// agreement table read.
pub fn look(session: &mut Session, diagnostics: &mut Diagnostics) -> Result<Analysed> {
    session.plan(diagnostics)?;
    let mut carried = std::mem::take(&mut session.carried);
    let (study, store) = session.study_and_existing_store()?;
    analyse(study, store, &mut carried, diagnostics)
}

/// Writes the pass's reports and records the run side by side: the run is
/// written to the store while the reports are rendered and written (on
/// threads of their own), and committed only once every report is written.
fn write_reports_and_record(
    study: &Study,
    store: &mut Store,
    analysed: &Analysed,
    provenance: &Provenance,
    started_at: String,
    diagnostics: &Diagnostics,
) -> Result<Written> {
    let read: HashMap<&str, (&Transcript, &str)> = analysed
        .read
        .iter()
        .map(|r| (r.transcript.id.as_str(), (&r.transcript, r.text.as_str())))
        .collect();
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
    let stages = study.stages.coding.iter().map(stage_record).collect();
    let plan = &study.plan;
    std::thread::scope(|scope| {
        let reports = scope.spawn(|| write_reports(plan, &analysed.analysis, provenance));
        let pending = store.begin_run(&RunRecord {
            started_at,
            finished_at: now(),
            engine_version: env!("CARGO_PKG_VERSION").to_string(),
            config_hash: plan.config_hash.clone(),
            stages,
            transcripts: &current,
            unreadable: &analysed.unreadable,
            new_codings: &analysed.new_codings,
            outcome: format!("{:?}", diagnostics.outcome()),
        });
        let written = reports
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        // A pass whose reports could not be written is not recorded: the next tries again.
        pending?.commit()?;
        Ok(written)
    })
}

/// Writes the redaction key where the study says, when it changed.
fn write_key(path: &Path, key: &str) -> Result<()> {
    if fs::read_to_string(path).is_ok_and(|old| old == key) {
        return Ok(());
    }
    write_atomic(path, key.as_bytes()).with_context(|| format!("writing the redaction key {}", path.display()))
}
