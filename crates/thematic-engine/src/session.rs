//! A session over one study folder: the study planned and its stages
//! started, the store open, and what the last pass leaves for the next.
//! `thematic run` makes one for one pass; `thematic watch` keeps one for
//! its lifetime and plans again on every batch that changed more than
//! transcripts, starting again only the stages whose start key changed.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use thematic_model::Analysis;
use thematic_store::{FileStamp, Store};

use crate::agreement::AgreementCache;
use crate::analyse::Carried;
use crate::diagnostics::Diagnostics;
use crate::layout::STATE_DIR;
use crate::plan::plan_folder;
use crate::study::{thematic_executable, Study};

pub struct Session {
    root: PathBuf,
    /// The `thematic` binary, which isolated plugins run in.
    executable: PathBuf,
    /// The study as last planned and started; none before the first plan
    /// and after one failed (its stages are then started afresh).
    study: Option<Study>,
    store: Option<Store>,
    /// What the last pass left for the next.
    pub carried: Carried,
    /// The last pass's agreement decisions, by transcript.
    pub agreements: AgreementCache,
    /// The names of the stages the last plan started (the rest were kept running).
    pub started: Vec<String>,
    /// Whether the next pass keeps the last plan (see [`Session::keep_plan_after`]).
    keep_plan: bool,
    /// What the last plan warned of and found failed, said again by every
    /// pass that keeps it.
    plan_said: (Vec<String>, Vec<String>),
}

impl Session {
    /// A session over the study in `root`; nothing is read until it is planned.
    pub fn new(root: &Path) -> Result<Session> {
        Ok(Session {
            root: root.to_path_buf(),
            executable: thematic_executable()?,
            study: None,
            store: None,
            carried: Carried::default(),
            agreements: AgreementCache::default(),
            started: Vec::new(),
            keep_plan: false,
            plan_said: (Vec::new(), Vec::new()),
        })
    }

    /// Has the next pass keep the last plan if `changed` (paths that
    /// changed, were added or went) leaves it as it is: only transcripts it
    /// planned changed, and are still there (see [`crate::plan::Plan::holds_after`]).
    pub fn keep_plan_after<'c>(&mut self, changed: impl IntoIterator<Item = &'c Path>) {
        self.keep_plan = self
            .study
            .as_ref()
            .is_some_and(|study| study.plan.holds_after(changed, Path::is_file));
    }

    /// Plans the study from its folder again and starts the stages whose
    /// start key changed (all of them the first time). An error is a
    /// configuration error; the session then starts every stage afresh at
    /// the next plan that succeeds.
    pub fn plan(&mut self, diagnostics: &mut Diagnostics) -> Result<&Study> {
        if std::mem::take(&mut self.keep_plan) && self.study.is_some() {
            self.started.clear();
            let (warnings, failures) = &self.plan_said;
            warnings.iter().for_each(|w| diagnostics.warn(w.clone()));
            failures.iter().for_each(|f| diagnostics.fail(f.clone()));
            return self.study.as_ref().context("the study has been planned");
        }
        let running = self.study.take().map(|study| study.stages).unwrap_or_default();
        let (warned, failed) = (diagnostics.warnings.len(), diagnostics.failures.len());
        let plan = plan_folder(&self.root, diagnostics)?;
        self.plan_said = (
            diagnostics.warnings[warned..].to_vec(),
            diagnostics.failures[failed..].to_vec(),
        );
        let stages = running.restart(&plan, &self.executable)?;
        self.started = stages.started.clone();
        Ok(self.study.insert(Study { plan, stages }))
    }

    /// The study as last planned, if the last plan succeeded.
    pub fn study(&self) -> Option<&Study> {
        self.study.as_ref()
    }

    /// The planned study and the store (opened, and `.thematic/` made, the
    /// first time).
    pub fn study_and_store(&mut self) -> Result<(&Study, &mut Store)> {
        let study = self.study.as_ref().context("the study has not been planned")?;
        if self.store.is_none() {
            let state = study.plan.root.join(STATE_DIR);
            fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
            self.store = Some(Store::open(&study.plan.store_path())?);
        }
        let store = self.store.as_mut().context("the store is open")?;
        Ok((study, store))
    }

    /// The planned study and its store, if the study has one (nothing is
    /// made: a study never run has none).
    pub fn study_and_existing_store(&mut self) -> Result<(&Study, Option<&Store>)> {
        let study = self.study.as_ref().context("the study has not been planned")?;
        if self.store.is_none() && study.plan.store_path().is_file() {
            self.store = Some(Store::open(&study.plan.store_path())?);
        }
        Ok((study, self.store.as_ref()))
    }

    /// Keeps a finished pass's digests for the next.
    pub fn carry(&mut self, analysis: Analysis, keys: Vec<(String, Option<FileStamp>)>) {
        self.carried = Carried::keep(analysis, keys);
    }
}
