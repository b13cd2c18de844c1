//! The workbench's desk: what the page of `thematic watch --serve` shows of
//! the study and where a person's decisions go. Each decision is a plain
//! file of the study, written atomically: their codings in `coders/NAME.csv`
//! (what a `coder` stage reads), the suggestions they rejected beside it in
//! `coders/NAME.rejected.csv`, memos under `memos/` (shared: a memo is
//! written only over the version the person read). A saved decision is a change like any other,
//! so the next pass of the watch takes it in (their stage, agreement, a
//! stage that learns from them).
//!
//! The desk keeps a snapshot of the last good pass (which transcripts, which
//! stages suggest, which codes), made by [`Desk::refresh`]; it reads texts
//! and stored codings through a read-only connection to the store of its
//! own, so the page is answered while a pass runs. A person's own files are
//! read afresh on every request: what was just saved shows at once.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use thematic_config::{StageKind, StudyConfig, CONFIG_FILE};
use thematic_model::{
    Analysis, Code, CoderAgreement, Decision, DeskArea, DeskError, DeskOutline, DeskTheme, DeskTranscript, MemoAbout,
    MemoChange, MemoView, ReviewedTheme, Saved, Standing, ThemeChange, Transcript, TranscriptView, ViewCoding,
    ViewTurn, JOURNAL_FILE,
};
use thematic_pipeline::{Decided, DecisionsFile, MemoSubjects, Placement};
use thematic_refi::slug;
use thematic_store::Store;
use toml_edit::DocumentMut;

use crate::files::{sha256_hex, write_atomic};
use crate::import::{array_of_tables, coder_stage, roles_a_person_codes};
use crate::plan::{memos_below, Plan, Runs};
use crate::shaping::shaped;
use crate::source::Disk;

/// The folder a person's decision files go in.
const CODERS_DIR: &str = "coders";

pub struct Desk {
    root: PathBuf,
    coder: String,
    snapshot: RwLock<Arc<Snapshot>>,
    /// One decision at a time: each reads a file, changes it and writes it back.
    writing: Mutex<()>,
}

/// What the desk knows of the last good pass.
#[derive(Default)]
struct Snapshot {
    store: Option<PathBuf>,
    transcripts: Vec<DeskTranscript>,
    /// The coding stages whose codings are offered as suggestions: (name, strategy, fingerprint).
    suggesting: Vec<(String, String, String)>,
    codes: Vec<Code>,
    /// The themes of the last run.
    themes: Vec<DeskTheme>,
    /// The reports' folder, where no memo is looked for.
    outputs: PathBuf,
    own: OwnFiles,
    agreements: Vec<CoderAgreement>,
    /// What a stage reading the person's codings is given when the desk adds
    /// one: the codebook of each code (by the codebook's name), and the roles.
    codebook_of: Vec<(String, String)>,
    roles: Vec<String>,
}

/// The person's files, relative to the study, and the stage that reads their codings.
#[derive(Default, Clone)]
struct OwnFiles {
    codings: String,
    rejected: String,
    stage: Option<String>,
    /// The codes the person's stage accepts (its codebook's), where it has one.
    stage_codes: Option<BTreeSet<String>>,
}

impl Desk {
    /// A desk for `coder`'s decisions in the study at `root`; nothing is
    /// shown until the first pass refreshes it.
    pub fn new(root: &Path, coder: &str) -> Result<Desk, DeskError> {
        if slug(coder).is_none() {
            return Err(DeskError::Refused(format!(
                "`{coder}` cannot name a coder: give a name with a letter or digit in it"
            )));
        }
        let snapshot = Snapshot {
            own: own_files(coder, None),
            ..Snapshot::default()
        };
        Ok(Desk {
            root: root.to_path_buf(),
            coder: coder.to_string(),
            snapshot: RwLock::new(Arc::new(snapshot)),
            writing: Mutex::new(()),
        })
    }

    /// Takes in a pass that succeeded: its plan and its analysis.
    pub fn refresh(&self, plan: &Plan, analysis: &Analysis) {
        let own = own_files(&self.coder, Some(plan));
        let coding = |s: &&crate::plan::StagePlan| s.kind == StageKind::Coding;
        let suggesting = plan
            .stages
            .iter()
            .filter(coding)
            .filter(|s| Some(&s.name) != own.stage.as_ref())
            .map(|s| (s.name.clone(), s.strategy_name.clone(), s.fingerprint.clone()))
            .collect();
        let snapshot = Snapshot {
            store: plan.store_path().is_file().then(|| plan.store_path()),
            transcripts: analysis
                .transcripts
                .iter()
                .map(|t| DeskTranscript {
                    id: t.id.clone(),
                    participant: t.participant.clone(),
                })
                .collect(),
            suggesting,
            codes: plan.codes.clone(),
            themes: proposed_themes(&analysis.themes),
            outputs: plan.root.join(&plan.config.study.outputs.dir),
            own,
            agreements: analysis.agreements.clone(),
            codebook_of: codebook_of_each_code(plan),
            roles: roles_a_person_codes(&plan.config),
        };
        *self.snapshot.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// What the page lists.
    pub fn outline(&self) -> DeskOutline {
        let snapshot = self.snapshot();
        let problem = self.read_decisions(&snapshot.own.codings, false).err();
        let (themes, areas) = self.themes_now(&snapshot);
        DeskOutline {
            coder: self.coder.clone(),
            codings_file: snapshot.own.codings.clone(),
            coder_stage: snapshot.own.stage.clone(),
            problem: problem.map(|p| format!("{p}; your codings are not shown until that line is mended")),
            transcripts: snapshot.transcripts.clone(),
            codes: snapshot.codes.clone(),
            memos: self.memos(&snapshot, &themes),
            themes,
            areas,
            agreements: snapshot.agreements.clone(),
        }
    }

    /// The themes and areas `thematic.toml` defines now (a change made in
    /// the page shows before the pass it starts), then the themes the last
    /// run's stages proposed that it does not define. While it cannot be
    /// read, the last run's themes.
    fn themes_now(&self, snapshot: &Snapshot) -> (Vec<DeskTheme>, Vec<DeskArea>) {
        let config = fs::read_to_string(self.root.join(CONFIG_FILE))
            .ok()
            .and_then(|text| StudyConfig::parse(CONFIG_FILE, &text).ok());
        let Some(config) = config else {
            return (snapshot.themes.clone(), Vec::new());
        };
        let area_of = |id: &str| {
            config
                .study
                .areas
                .iter()
                .find(|a| a.themes.iter().any(|t| t.get_ref() == id))
                .map(|a| a.id.get_ref().clone())
        };
        let mut themes = Vec::new();
        let mut put = |theme: &thematic_config::Theme, parent: Option<&str>| {
            let id = theme.id.get_ref();
            themes.push(DeskTheme {
                id: id.clone(),
                name: theme.name.clone(),
                parent: parent.map(str::to_string),
                codes: theme.codes.iter().map(|c| c.get_ref().clone()).collect(),
                area: area_of(id),
                defined: true,
            });
        };
        for theme in &config.study.themes {
            put(theme, None);
            for sub in &theme.subthemes {
                put(sub, Some(theme.id.get_ref()));
            }
        }
        let proposed: Vec<DeskTheme> = snapshot
            .themes
            .iter()
            .filter(|t| !themes.iter().any(|d| d.id == t.id))
            .cloned()
            .collect();
        themes.extend(proposed);
        let areas = config
            .study
            .areas
            .iter()
            .map(|a| DeskArea {
                id: a.id.get_ref().clone(),
                name: a.name.clone(),
            })
            .collect();
        (themes, areas)
    }

    /// Makes a change to the themes and areas `thematic.toml` defines, in place.
    pub fn shape_themes(&self, change: ThemeChange) -> Result<Saved, DeskError> {
        let _one_at_a_time = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = self.snapshot();
        let path = self.root.join(CONFIG_FILE);
        let text = fs::read_to_string(&path).map_err(|e| DeskError::Unavailable(format!("{}: {e}", path.display())))?;
        let codes: Vec<&str> = snapshot.codes.iter().map(|c| c.id.as_str()).collect();
        let (new_text, said) = shaped(&text, &change, &codes)?;
        write_atomic(&path, new_text.as_bytes()).map_err(|e| DeskError::NotSaved(format!("{CONFIG_FILE}: {e:#}")))?;
        Ok(saved(CONFIG_FILE.to_string(), said))
    }

    /// The study's memos as their files hold them now.
    fn memos(&self, snapshot: &Snapshot, themes: &[DeskTheme]) -> Vec<MemoView> {
        let (memos, _unreadable) = memo_subjects(snapshot, themes, |subjects| {
            memos_below(&self.root, &Disk, &snapshot.outputs, subjects)
        });
        memos
            .into_iter()
            .map(|memo| MemoView {
                version: sha256_hex(memo.text.as_bytes()),
                file: memo.file,
                about: memo.about,
                text: memo.text,
            })
            .collect()
    }

    /// Transcript `id` with every coding of it: the stages' suggestions as
    /// the last pass stored them, and the person's own as their file holds them now.
    pub fn transcript(&self, id: &str) -> Result<TranscriptView, DeskError> {
        let snapshot = self.snapshot();
        let (transcript, text) = stored_transcript(&snapshot, id)?;
        let mut problems = Vec::new();
        let mut read = |file: &str, staged| {
            self.read_decisions(file, staged)
                .map_err(|problem| problems.push(problem))
                .unwrap_or_else(|()| DecisionsFile::new("", staged))
        };
        let own = read(&snapshot.own.codings, false);
        let rejected = read(&snapshot.own.rejected, true);
        // The person's codings where they apply to the text as it is now.
        let own: Vec<ViewCoding> = own
            .rows()
            .iter()
            .filter(|r| r.transcript == id)
            .map(|row| own_coding(row, &transcript))
            .collect();
        let rejected: Vec<&Decided> = rejected.rows().iter().filter(|r| r.transcript == id).collect();
        let mut codings = suggestions(&snapshot, &transcript)?;
        for coding in &mut codings {
            let same = |code: &str, start, end| code == coding.code && start == coding.start && end == coding.end;
            if own
                .iter()
                .any(|o| o.standing != Standing::Stale && same(&o.code, o.start, o.end))
            {
                coding.standing = Standing::Accepted;
            } else if rejected.iter().any(|r| {
                // A rejection holds only on the text it was made on.
                r.stage == coding.stage
                    && (r.transcript_sha256.is_empty() || r.transcript_sha256 == transcript.content_hash)
                    && same(&r.code, r.start, r.end)
            }) {
                coding.standing = Standing::Rejected;
            }
        }
        codings.extend(own);
        Ok(TranscriptView {
            id: transcript.id.clone(),
            participant: transcript.participant.clone(),
            content_hash: transcript.content_hash.clone(),
            turns: transcript
                .segments
                .iter()
                .map(|s| ViewTurn {
                    turn: s.turn,
                    speaker: s.speaker.clone(),
                    role: s.role.clone(),
                    participant: s.participant.clone(),
                    start: s.start,
                    end: s.end,
                    start_ms: s.start_ms,
                    end_ms: s.end_ms,
                })
                .collect(),
            text,
            codings,
            problems,
        })
    }

    /// Saves a decision to the person's files. Everything is checked before
    /// anything is written; a refused decision writes nothing.
    pub fn decide(&self, decision: Decision) -> Result<Saved, DeskError> {
        let _one_at_a_time = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = self.snapshot();
        let (transcript, text) = stored_transcript(&snapshot, decision.transcript())?;
        if decision.made_on().is_some_and(|hash| hash != transcript.content_hash) {
            return Err(DeskError::Conflict(format!(
                "{} changed since the page showed it: nothing was saved; it is shown again now, select the words again",
                transcript.id
            )));
        }
        let length = text.chars().count();
        let stretch = |code: &str, start: usize, end: usize| -> Result<Decided, DeskError> {
            if start >= end || end > length {
                return Err(DeskError::Refused(format!(
                    "{start}–{end} is not a stretch of {} ({length} characters)",
                    transcript.id
                )));
            }
            Ok(Decided {
                transcript: transcript.id.clone(),
                code: code.to_string(),
                start,
                end,
                transcript_sha256: transcript.content_hash.clone(),
                stage: String::new(),
                // Kept so that the coding finds its words again once the transcript is corrected.
                words: text.chars().skip(start).take(end - start).collect(),
            })
        };
        if let Decision::Reject { stage, .. } | Decision::Unreject { stage, .. } = &decision {
            if !snapshot.suggesting.iter().any(|(name, _, _)| name == stage) {
                return Err(DeskError::NotFound(format!("no coding stage is named `{stage}`")));
            }
        }
        let own = &snapshot.own;
        match decision {
            Decision::Code { code, start, end, .. } => {
                self.check_code(&snapshot, &code)?;
                let row = stretch(&code, start, end)?;
                let said = format!("coded {}–{} of {} as `{code}`", row.start, row.end, row.transcript);
                self.change(&own.codings, false, |file| Ok(file.add(row)))?;
                self.add_coder_stage(&snapshot, &code)?;
                Ok(saved(own.codings.clone(), said))
            }
            Decision::Uncode { code, start, end, .. } => {
                let said = format!("took `{code}` off {start}–{end} of {}", transcript.id);
                self.change(&own.codings, false, |file| {
                    let row = own_row(file, &transcript, &code, start, end)?;
                    Ok(file.remove(&row))
                })?;
                Ok(saved(own.codings.clone(), said))
            }
            Decision::Recode {
                code, start, end, to, ..
            } => {
                self.check_code(&snapshot, &to)?;
                let said = format!("recoded {start}–{end} of {} from `{code}` to `{to}`", transcript.id);
                self.change(&own.codings, false, |file| {
                    let row = own_row(file, &transcript, &code, start, end)?;
                    Ok(file.recode(&row, &to))
                })?;
                Ok(saved(own.codings.clone(), said))
            }
            Decision::Reject {
                stage,
                code,
                start,
                end,
                ..
            } => {
                // A rejection holds only where it was made: its words are not kept.
                let row = Decided {
                    stage: stage.clone(),
                    words: String::new(),
                    ..stretch(&code, start, end)?
                };
                let said = format!(
                    "rejected `{code}` at {start}–{end} of {}, suggested by `{stage}`",
                    transcript.id
                );
                self.change(&own.rejected, true, |file| Ok(file.add(row)))?;
                Ok(saved(own.rejected.clone(), said))
            }
            Decision::Unreject {
                stage,
                code,
                start,
                end,
                ..
            } => {
                let said = format!(
                    "took back the rejection of `{code}` at {start}–{end} of {}",
                    transcript.id
                );
                self.change(&own.rejected, true, |file| {
                    let found = file
                        .rows()
                        .iter()
                        .find(|r| {
                            r.transcript == transcript.id
                                && r.stage == stage
                                && r.code == code
                                && r.start == start
                                && r.end == end
                        })
                        .cloned();
                    Ok(found.is_some_and(|row| file.remove(&row)))
                })?;
                Ok(saved(own.rejected.clone(), said))
            }
        }
    }

    /// Writes a memo over the version the person read (a memo changed since
    /// is refused, so no one's text is lost); no text takes the memo away.
    pub fn write_memo(&self, change: MemoChange) -> Result<Saved, DeskError> {
        let _one_at_a_time = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = self.snapshot();
        let MemoChange { about, text, was } = change;
        let (themes, _) = self.themes_now(&snapshot);
        let known = match &about {
            MemoAbout::Study => true,
            MemoAbout::Code(id) => snapshot.codes.iter().any(|c| c.id == *id),
            MemoAbout::Theme(id) => themes.iter().any(|t| t.id == *id),
            MemoAbout::Transcript(id) => snapshot.transcripts.iter().any(|t| t.id == *id),
        };
        if !known {
            return Err(DeskError::NotFound(format!(
                "the study has nothing a memo is about as {about:?}"
            )));
        }
        let memos = self.memos(&snapshot, &themes);
        // A memo already about it under a name of its own (written by hand) is the one changed.
        let file = match memos
            .iter()
            .find(|m| m.about == about && (about != MemoAbout::Study || m.file == JOURNAL_FILE))
        {
            Some(memo) => memo.file.clone(),
            None => memo_subjects(&snapshot, &themes, |subjects| subjects.file_of(&about)),
        };
        let path = self.root.join(&file);
        let current = memos.iter().find(|m| m.file == file);
        if current.is_none() && path.exists() {
            return Err(DeskError::Refused(format!(
                "{file} cannot be read as a memo (not UTF-8 text?); mend it by hand first"
            )));
        }
        if current.map_or("", |m| m.version.as_str()) != was {
            return Err(DeskError::Conflict(format!(
                "{file} was changed since you opened it (by someone else, or by hand): your text was not saved; keep a copy of it, then reload the memo and add it again"
            )));
        }
        let not_saved = |error: String| DeskError::NotSaved(format!("{file}: {error}"));
        if text.trim().is_empty() {
            if current.is_some() {
                fs::remove_file(&path).map_err(|e| not_saved(e.to_string()))?;
            }
            return Ok(saved(file, "took the memo away".into()));
        }
        let mut text = text;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes()).map_err(|e| not_saved(format!("{e:#}")))?;
        Ok(saved(file, "saved the memo".into()))
    }

    /// A code the person may apply: one of the study's, and of their stage's codebook.
    fn check_code(&self, snapshot: &Snapshot, code: &str) -> Result<(), DeskError> {
        if !snapshot.codes.iter().any(|c| c.id == code) {
            return Err(DeskError::NotFound(format!(
                "`{code}` is not a code of the study's codebooks"
            )));
        }
        match (&snapshot.own.stage, &snapshot.own.stage_codes) {
            (Some(stage), Some(codes)) if !codes.contains(code) => Err(DeskError::Refused(format!(
                "`{code}` is not in the codebook of your stage `{stage}` in {CONFIG_FILE}"
            ))),
            _ => Ok(()),
        }
    }

    /// Reads one of the person's files (none yet: no rows); an error names the file and line.
    fn read_decisions(&self, file: &str, staged: bool) -> Result<DecisionsFile, String> {
        match fs::read(self.root.join(file)) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|e| format!("{file}: not UTF-8 at byte {}", e.utf8_error().valid_up_to()))?;
                DecisionsFile::parse(&thematic_pipeline::CodingsFile {
                    name: file,
                    text: &text,
                })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(self.new_file(staged)),
            Err(error) => Err(format!("{file}: {error}")),
        }
    }

    fn new_file(&self, staged: bool) -> DecisionsFile {
        let whose = match staged {
            false => format!("Codings of {:?}, made in thematic's workbench", self.coder),
            true => format!("Suggestions {:?} rejected in thematic's workbench", self.coder),
        };
        DecisionsFile::new(&whose, staged)
    }

    /// Reads `file`, changes it with `change` and, if it changed, writes it back atomically.
    fn change(
        &self,
        file: &str,
        staged: bool,
        change: impl FnOnce(&mut DecisionsFile) -> Result<bool, DeskError>,
    ) -> Result<(), DeskError> {
        let mut decisions = self
            .read_decisions(file, staged)
            .map_err(|problem| DeskError::Refused(format!("{problem}; mend that line first (nothing was saved)")))?;
        if change(&mut decisions)? {
            write_atomic(&self.root.join(file), decisions.render().as_bytes())
                .map_err(|error| DeskError::NotSaved(format!("{error:#}")))?;
        }
        Ok(())
    }

    /// Adds a `coder` stage reading the person's codings to `thematic.toml`
    /// when no stage reads them yet, so that the next pass takes them in.
    fn add_coder_stage(&self, snapshot: &Snapshot, code: &str) -> Result<(), DeskError> {
        if snapshot.own.stage.is_some() {
            return Ok(());
        }
        let Some((_, codebook)) = snapshot.codebook_of.iter().find(|(c, _)| c == code) else {
            return Err(DeskError::NotSaved(format!(
                "saved to {}, but no codebook of {CONFIG_FILE} holds `{code}`, so no stage was added to read it",
                snapshot.own.codings
            )));
        };
        let path = self.root.join(CONFIG_FILE);
        let not_saved = |why: String| {
            DeskError::NotSaved(format!(
                "{} (a stage reading {}): {why}",
                path.display(),
                snapshot.own.codings
            ))
        };
        let text = fs::read_to_string(&path).map_err(|e| not_saved(e.to_string()))?;
        let mut document: DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| not_saved(e.to_string()))?;
        // Added by an earlier decision that no pass has taken in yet.
        let reads_it = |stage: &toml_edit::Table| {
            stage.get("codings").and_then(|c| c.as_str()) == Some(snapshot.own.codings.as_str())
        };
        if document
            .get("stages")
            .and_then(|s| s.as_array_of_tables())
            .is_some_and(|stages| stages.iter().any(reads_it))
        {
            return Ok(());
        }
        let stage = self.coder.clone();
        let table = coder_stage(&stage, &snapshot.own.codings, codebook, &snapshot.roles);
        array_of_tables(&mut document, "stages")
            .map_err(|e| not_saved(format!("{e:#}")))?
            .push(table);
        let new_text = document.to_string();
        StudyConfig::parse(CONFIG_FILE, &new_text).map_err(|e| not_saved(e.to_string()))?;
        write_atomic(&path, new_text.as_bytes()).map_err(|e| not_saved(format!("{e:#}")))
    }
}

fn saved(file: String, said: String) -> Saved {
    Saved { file, said }
}

/// The last run's themes, each followed by its sub-themes, as a stage proposed them.
fn proposed_themes(themes: &[ReviewedTheme]) -> Vec<DeskTheme> {
    let mut proposed = Vec::new();
    for theme in themes {
        let subthemes = theme.subthemes.iter().map(|sub| (sub, Some(&theme.id)));
        for (each, parent) in std::iter::once((theme, None)).chain(subthemes) {
            proposed.push(DeskTheme {
                id: each.id.clone(),
                name: each.name.clone(),
                parent: parent.cloned(),
                codes: each.codes.clone(),
                area: None,
                defined: false,
            });
        }
    }
    proposed
}

/// `then` given what memos can be about in the snapshot's study, with `themes`.
fn memo_subjects<T>(snapshot: &Snapshot, themes: &[DeskTheme], then: impl FnOnce(&MemoSubjects) -> T) -> T {
    let codes: Vec<&str> = snapshot.codes.iter().map(|c| c.id.as_str()).collect();
    let themes: Vec<&str> = themes.iter().map(|t| t.id.as_str()).collect();
    let transcripts: Vec<&str> = snapshot.transcripts.iter().map(|t| t.id.as_str()).collect();
    then(&MemoSubjects {
        codes: &codes,
        themes: &themes,
        transcripts: &transcripts,
    })
}

/// One of the person's codings as the page shows it: where it was made, or,
/// made on another version of the text, where its words are now (or, lost,
/// where it was made, flagged).
fn own_coding(row: &Decided, transcript: &Transcript) -> ViewCoding {
    // Found as the person's `coder` stage finds it: within a turn.
    let turns = transcript.segments.iter().map(|s| (s.start, s.text.as_str()));
    let (start, end, standing) = match row.placed_in(turns, &transcript.content_hash) {
        Placement::AsMade => (row.start, row.end, Standing::Own),
        Placement::Found { start, end } => (start, end, Standing::Found),
        Placement::Lost => (row.start, row.end, Standing::Stale),
    };
    ViewCoding {
        code: row.code.clone(),
        stage: String::new(),
        strategy: "coder".into(),
        start,
        end,
        confidence: None,
        standing,
    }
}

/// The person's row of `code` shown at `start`–`end` of `transcript`,
/// whatever text it was made on.
fn own_row(
    file: &DecisionsFile,
    transcript: &Transcript,
    code: &str,
    start: usize,
    end: usize,
) -> Result<Decided, DeskError> {
    file.rows()
        .iter()
        .filter(|r| r.transcript == transcript.id && r.code == code)
        .find(|r| {
            let shown = own_coding(r, transcript);
            shown.start == start && shown.end == end
        })
        .cloned()
        .ok_or_else(|| {
            DeskError::NotFound(format!(
                "you have not coded {start}–{end} of {} as `{code}`",
                transcript.id
            ))
        })
}

/// Where `coder`'s decisions go: the file of the `coder` stage named after
/// them, else `coders/NAME.csv` (and the stage reading that file, if one does).
fn own_files(coder: &str, plan: Option<&Plan>) -> OwnFiles {
    let file_of = |stage: &crate::plan::StagePlan| match &stage.runs {
        Runs::Coder { file, .. } => Some(file.clone()),
        _ => None,
    };
    let stages = plan.map(|p| p.stages.as_slice()).unwrap_or_default();
    let default = format!("{CODERS_DIR}/{}.csv", slug(coder).unwrap_or_else(|| "coder".into()));
    let named = stages.iter().find(|s| s.name == coder && file_of(s).is_some());
    let reading = named.or_else(|| stages.iter().find(|s| file_of(s).as_deref() == Some(default.as_str())));
    let codings = reading.and_then(file_of).unwrap_or(default);
    let rejected = match codings.strip_suffix(".csv") {
        Some(stem) => format!("{stem}.rejected.csv"),
        None => format!("{codings}.rejected.csv"),
    };
    OwnFiles {
        codings,
        rejected,
        stage: reading.map(|s| s.name.clone()),
        stage_codes: reading
            .and_then(|s| s.codebook.as_ref())
            .map(|book| book.codes.iter().map(|c| c.id.clone()).collect()),
    }
}

/// Each code with the name of a codebook holding it, from the coding stages
/// of the configuration that name one.
fn codebook_of_each_code(plan: &Plan) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for configured in &plan.config.study.stages {
        let configured = configured.get_ref();
        let (Some(name), Some(planned)) = (
            &configured.codebook,
            plan.stages.iter().find(|s| s.name == *configured.name.get_ref()),
        ) else {
            continue;
        };
        for code in planned.codebook.iter().flat_map(|b| &b.codes) {
            if !found.iter().any(|(c, _): &(String, String)| *c == code.id) {
                found.push((code.id.clone(), name.get_ref().clone()));
            }
        }
    }
    found
}

/// Transcript `id` and its text, as the last pass stored them.
fn stored_transcript(snapshot: &Snapshot, id: &str) -> Result<(Transcript, String), DeskError> {
    let not_analysed = || DeskError::NotFound(format!("{id}: not a transcript the last run analysed"));
    if !snapshot.transcripts.iter().any(|t| t.id == id) {
        return Err(not_analysed());
    }
    let store = open_store(snapshot)?;
    let read = |e: thematic_store::StoreError| DeskError::Unavailable(format!("{id}: {e}"));
    let transcript = store.transcript(id).map_err(read)?.ok_or_else(not_analysed)?;
    let text = store.text(&transcript).map_err(read)?.ok_or_else(not_analysed)?;
    Ok((transcript, text))
}

fn open_store(snapshot: &Snapshot) -> Result<Store, DeskError> {
    let file = snapshot
        .store
        .as_ref()
        .ok_or_else(|| DeskError::NotFound("the study has not been analysed yet".into()))?;
    Store::open_to_read(file).map_err(|e| DeskError::Unavailable(e.to_string()))
}

/// Every stage's codings of `transcript` as the store holds them, a span each, least sure first.
fn suggestions(snapshot: &Snapshot, transcript: &Transcript) -> Result<Vec<ViewCoding>, DeskError> {
    let store = open_store(snapshot)?;
    let mut codings = Vec::new();
    for (stage, strategy, fingerprint) in &snapshot.suggesting {
        let record = store
            .stored_record(&transcript.content_hash, fingerprint)
            .map_err(|e| DeskError::Unavailable(e.to_string()))?;
        for coding in record.iter().flat_map(|r| r.codings(&transcript.id)) {
            codings.extend(coding.spans.iter().map(|span| ViewCoding {
                code: coding.code.clone(),
                stage: stage.clone(),
                strategy: strategy.clone(),
                start: span.start,
                end: span.end,
                confidence: coding.confidence,
                standing: Standing::Suggested,
            }));
        }
    }
    // Least sure first; codings with no score (a dictionary's, a person's) after those with one.
    codings.sort_by(|a, b| {
        let sureness = |c: &ViewCoding| c.confidence.unwrap_or(f64::INFINITY);
        sureness(a).total_cmp(&sureness(b)).then(a.start.cmp(&b.start))
    });
    Ok(codings)
}
