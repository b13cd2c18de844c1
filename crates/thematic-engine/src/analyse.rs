//! One pass of the pipeline over a loaded study: find which transcripts
//! changed, read and code only those (reusing codings the store holds for
//! text it has seen), then review themes and map areas over every
//! transcript's digest. Writes nothing; the caller decides what to keep.
//!
//! A transcript whose file has the stamp (size, modification time) the store
//! recorded, and whose digest key (text, cut, stages, engine) is unchanged,
//! is not read at all: its digest comes from the store, or from what a
//! long-running caller [`Carried`] from its last pass.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thematic_model::{Analysis, Coding, Transcript, TranscriptDigest};
use thematic_pipeline::{
    check_candidates, code_transcript, digest, map_areas, review_themes, CodingStage, CodingSummary,
};
use thematic_store::{FileStamp, NewCodings, StageRecord, Store, StoreError, StoredTranscript};

use crate::diagnostics::Diagnostics;
use crate::files::sha256_hex;
use crate::reading::{read_one, Read};
use crate::study::Study;
use crate::{parallel, progress};

/// A file modified this close to a pass's start may change again within its
/// clock's granularity without its stamp changing: it is read again next time.
const SETTLING: Duration = Duration::from_secs(2);

/// What the store records of a coding stage: with each coding it made, and with each run.
pub fn stage_record(stage: &CodingStage) -> StageRecord {
    StageRecord {
        name: stage.name.clone(),
        strategy: stage.strategy_name.clone(),
        fingerprint: stage.fingerprint.clone(),
    }
}

pub struct Analysed {
    /// Transcripts in the study's order.
    pub analysis: Analysis,
    /// For each of the analysis's transcripts, in order: its digest key and
    /// its file's stamp, if the stamp can be trusted next time.
    pub keys: Vec<DigestKey>,
    /// The transcripts read and coded in this pass (files read whose text
    /// had not changed are not among them).
    pub read: Vec<Read>,
    /// Transcript files read in this pass.
    pub files_read: usize,
    /// Codings made in this pass, to be stored.
    pub new_codings: Vec<NewCodings>,
    /// Transcripts in the study that could not be read this time.
    pub unreadable: Vec<String>,
    /// What strategies logged for the run summary: (stage, message).
    pub logs: Vec<(String, String)>,
    /// (transcript, stage) pairs coded afresh and taken from the store.
    pub coded: usize,
    pub reused: usize,
    /// Segments of the transcripts coded afresh (once per transcript).
    pub segments_coded: usize,
}

/// What a pass leaves for the next in a long-running session (watch mode).
#[derive(Default)]
pub struct Carried {
    /// The last pass's digests by transcript id, with their keys: taken
    /// instead of the store's when the keys agree.
    digests: HashMap<String, (String, TranscriptDigest)>,
    /// Transcripts (or folders of them) to read whatever their stamps say.
    unsure: Vec<String>,
    unsure_of_all: bool,
}

impl Carried {
    /// Has the next pass read every file and compare it by content (after
    /// the watcher lost events).
    pub fn forget_files(&mut self) {
        self.unsure_of_all = true;
    }

    /// Has the next pass read the transcript at `id` (a path relative to the
    /// study) and any below it, whatever their stamps say: an edit can keep
    /// a file's size within its modification time's granularity.
    pub fn forget_path(&mut self, id: &str) {
        self.unsure.push(id.to_string());
    }

    fn is_unsure(&self, id: &str) -> bool {
        self.unsure_of_all
            || self
                .unsure
                .iter()
                .any(|path| id == path || id.strip_prefix(path.as_str()).is_some_and(|rest| rest.starts_with('/')))
    }

    /// Keeps a finished pass's digests for the next.
    pub fn keep(analysis: Analysis, keys: Vec<(String, Option<FileStamp>)>) -> Carried {
        Carried {
            digests: analysis
                .transcripts
                .into_iter()
                .zip(keys)
                .map(|(digest, (key, _))| (digest.id.clone(), (key, digest)))
                .collect(),
            ..Carried::default()
        }
    }

    /// Takes the last pass's digest of `id`, if it was made under `key`.
    fn kept(&mut self, id: &str, key: &str) -> Option<TranscriptDigest> {
        match self.digests.remove(id) {
            Some((kept_key, digest)) if kept_key == key => Some(digest),
            _ => None,
        }
    }

    /// Takes the digest of `id` made under `key`, from the last pass or the store.
    fn take(&mut self, store: &Store, id: &str, key: &str) -> Result<Option<TranscriptDigest>, StoreError> {
        match self.kept(id, key) {
            Some(digest) => Ok(Some(digest)),
            None => store.digest(id),
        }
    }
}

/// A file's stamp, if it has one that says when it changed.
fn file_stamp(path: &Path) -> Option<(FileStamp, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?;
    let since_epoch = modified.duration_since(UNIX_EPOCH).ok()?;
    let stamp = FileStamp {
        size: meta.len(),
        modified_ns: i64::try_from(since_epoch.as_nanos()).ok()?,
    };
    Some((stamp, modified))
}

/// What a transcript's digest is made from, beyond its text: the engine, the
/// configuration (which cuts the text into segments), the participant and
/// every coding stage's fingerprint (codebooks, scripts, plugins, parameters).
fn digest_key(study: &Study, stages: &str, participant: &str, content_hash: &str) -> String {
    sha256_hex(
        format!(
            "{}\n{}\n{participant}\n{content_hash}\n{stages}",
            env!("CARGO_PKG_VERSION"),
            study.plan.config_hash
        )
        .as_bytes(),
    )
}

/// One pass over `study`: see the module's documentation. Writes nothing;
/// the caller decides what to keep.
pub fn analyse(
    study: &Study,
    store: Option<&Store>,
    carried: &mut Carried,
    diagnostics: &mut Diagnostics,
) -> anyhow::Result<Analysed> {
    let started = SystemTime::now();
    let pass = Pass::new(study, store)?;
    let (mut found, to_read) = pass.unchanged(carried)?;
    let changed = pass.read_changed(&to_read, carried, &mut found, diagnostics)?;
    let coded = pass.code(&changed, diagnostics)?;
    // A stage that failed on a transcript leaves its digest unkeyed, so that the next pass tries again.
    for (c, changed) in changed.iter().enumerate() {
        let key = match coded.failed.contains(&c) {
            true => String::new(),
            false => changed.key.clone(),
        };
        found[changed.index] = Some((digest(&changed.transcript, &coded.codings[c]), key));
    }
    let (transcripts, keys, unreadable) = pass.in_study_order(found, started);
    let read: Vec<Read> = changed
        .into_iter()
        .map(|c| Read {
            transcript: c.transcript,
            text: c.text,
        })
        .collect();
    let analysis = group(study, pass.analysis_of(transcripts), &read, store, diagnostics);
    let segments_coded = coded
        .transcripts
        .iter()
        .map(|&c| read[c].transcript.segments.len())
        .sum();
    // Transcripts not read reused every stage's codings, inside their digests.
    let reused = coded.reused + (analysis.transcripts.len() - read.len()) * study.stages.coding.len();
    Ok(Analysed {
        analysis,
        keys,
        read,
        files_read: to_read.len().saturating_sub(unreadable.len()),
        new_codings: coded.new_codings,
        unreadable,
        logs: stage_logs(study),
        coded: coded.pairs,
        reused,
        segments_coded,
    })
}

/// A pass in progress: the study, the store, what the store recorded of
/// each transcript, and each transcript file's stamp now.
struct Pass<'a> {
    study: &'a Study,
    store: Option<&'a Store>,
    stored: HashMap<String, StoredTranscript>,
    /// Every coding stage's name and fingerprint, as digest keys hold them.
    stages: String,
    stamps: Vec<Option<(FileStamp, SystemTime)>>,
}

/// A transcript read in this pass whose text (or key) changed: to be coded.
struct Changed {
    /// Its place in the study's order.
    index: usize,
    transcript: Transcript,
    text: String,
    /// The key its digest will have.
    key: String,
}

/// What coding the changed transcripts gave.
struct Coded {
    /// Each changed transcript's codings, from the store or made now.
    codings: Vec<Vec<Coding>>,
    new_codings: Vec<NewCodings>,
    /// Changed transcripts a stage failed on.
    failed: HashSet<usize>,
    /// Changed transcripts coded afresh by some stage.
    transcripts: BTreeSet<usize>,
    /// (transcript, stage) pairs coded afresh, and taken from the store.
    pairs: usize,
    reused: usize,
}

/// Each transcript's digest and its key, in the study's order, as found so
/// far; none for one not found yet, or whose file cannot be read.
type Found = Vec<Option<(TranscriptDigest, String)>>;

/// A transcript to read: its place in the study's order, its id and its file.
type ToRead = (usize, String, PathBuf);

impl<'a> Pass<'a> {
    fn new(study: &'a Study, store: Option<&'a Store>) -> anyhow::Result<Pass<'a>> {
        Ok(Pass {
            study,
            store,
            stored: match store {
                Some(store) => store.transcripts()?,
                None => HashMap::new(),
            },
            stages: study
                .stages
                .coding
                .iter()
                .map(|s| format!("{}={}\n", s.name, s.fingerprint))
                .collect(),
            stamps: study
                .plan
                .transcripts
                .iter()
                .map(|(_, path)| file_stamp(path))
                .collect(),
        })
    }

    /// The key a digest of this text of `id` has now, and whether the store's digest was made under it.
    fn key_of(&self, id: &str, content_hash: &str) -> (String, bool) {
        let key = digest_key(
            self.study,
            &self.stages,
            &self.study.plan.participant_of(id),
            content_hash,
        );
        let current = self
            .stored
            .get(id)
            .is_some_and(|s| s.content_hash == content_hash && s.digest_key.as_deref() == Some(key.as_str()));
        (key, current)
    }

    /// The digests of transcripts whose files did not change since the store
    /// recorded them (the last pass's, or else the store's, all read at
    /// once), and the transcripts to read: (index, id, path).
    fn unchanged(&self, carried: &mut Carried) -> anyhow::Result<(Found, Vec<ToRead>)> {
        let transcripts = &self.study.plan.transcripts;
        let mut found: Found = vec![None; transcripts.len()];
        let mut from_store: Vec<(usize, String)> = Vec::new();
        let mut to_read = Vec::new();
        for (i, (id, path)) in transcripts.iter().enumerate() {
            let unchanged = match (self.stored.get(id), &self.stamps[i]) {
                (Some(state), Some((now, _))) if state.file == Some(*now) && !carried.is_unsure(id) => {
                    Some(self.key_of(id, &state.content_hash)).filter(|(_, current)| *current)
                }
                _ => None,
            };
            match unchanged {
                Some((key, _)) => match carried.kept(id, &key) {
                    Some(digest) => found[i] = Some((digest, key)),
                    None => from_store.push((i, key)),
                },
                None => to_read.push((i, id.clone(), path.clone())),
            }
        }
        if let (Some(store), false) = (self.store, from_store.is_empty()) {
            let wanted: HashSet<&str> = from_store.iter().map(|(i, _)| transcripts[*i].0.as_str()).collect();
            let mut digests = store.digests(&wanted)?;
            for (i, key) in from_store {
                let (id, path) = &transcripts[i];
                match digests.remove(id) {
                    Some(digest) => found[i] = Some((digest, key)),
                    None => to_read.push((i, id.clone(), path.clone())),
                }
            }
            to_read.sort_unstable_by_key(|(i, _, _)| *i);
        }
        Ok((found, to_read))
    }

    /// Reads the transcripts `to_read`; one whose text is what its digest
    /// was made from (a file touched, or one the watcher saw change back)
    /// keeps that digest, the rest are returned to be coded.
    fn read_changed(
        &self,
        to_read: &[ToRead],
        carried: &mut Carried,
        found: &mut Found,
        diagnostics: &mut Diagnostics,
    ) -> anyhow::Result<Vec<Changed>> {
        let plan = &self.study.plan;
        let read = parallel::map_ordered(to_read, || (), |(_, id, path), _| read_one(plan, id, path), || {});
        let mut changed = Vec::new();
        for ((index, id, _), result) in to_read.iter().zip(read) {
            match result {
                Ok((Read { transcript, text }, warnings)) => {
                    warnings.into_iter().for_each(|w| diagnostics.warn(w));
                    let (key, current) = self.key_of(id, &transcript.content_hash);
                    let kept = match self.store {
                        Some(store) if current => carried.take(store, id, &key)?,
                        _ => None,
                    };
                    match kept {
                        Some(digest) => found[*index] = Some((digest, key)),
                        None => changed.push(Changed {
                            index: *index,
                            transcript,
                            text,
                            key,
                        }),
                    }
                }
                Err(message) => diagnostics.fail(message),
            }
        }
        Ok(changed)
    }

    /// Each changed transcript's codings, stage by stage: from the store
    /// where that text was coded before, else coded now, on every core.
    fn code(&self, changed: &[Changed], diagnostics: &mut Diagnostics) -> anyhow::Result<Coded> {
        let stages = &self.study.stages.coding;
        let mut codings: Vec<Vec<Coding>> = vec![Vec::new(); changed.len()];
        let mut todo: Vec<(usize, usize)> = Vec::new();
        let mut reused = 0;
        for (c, Changed { transcript, .. }) in changed.iter().enumerate() {
            for (s, stage) in stages.iter().enumerate() {
                let stored = match self.store {
                    Some(store) => {
                        store.stored_codings(&transcript.content_hash, &stage.fingerprint, &transcript.id)?
                    }
                    None => None,
                };
                match stored {
                    Some(stored) => {
                        tracing::debug!(transcript = %transcript.id, stage = %stage.name, codings = stored.len(), "reused stored codings");
                        codings[c].extend(stored);
                        reused += 1;
                    }
                    None => todo.push((c, s)),
                }
            }
        }
        // Strategies see annotations (`[laughs]`, `(redacted)`) blanked out.
        let blanked: Vec<Option<Transcript>> = changed
            .iter()
            .map(|c| self.study.plan.annotations.blanked(&c.transcript))
            .collect();
        let bar = progress::bar(todo.len(), "coding");
        let results = parallel::map_ordered(
            &todo,
            || (),
            |&(c, s), _| code_transcript(&stages[s], blanked[c].as_ref().unwrap_or(&changed[c].transcript)),
            || bar.inc(1),
        );
        bar.finish_and_clear();
        let mut new_codings = Vec::new();
        let mut failed: HashSet<usize> = HashSet::new();
        for (&(c, s), result) in todo.iter().zip(results) {
            let (transcript, stage) = (&changed[c].transcript, &stages[s]);
            match result {
                Ok(made) => {
                    tracing::debug!(transcript = %transcript.id, stage = %stage.name, codings = made.len(), "coded");
                    codings[c].extend(made.iter().cloned());
                    new_codings.push(NewCodings {
                        content_hash: transcript.content_hash.clone(),
                        stage: stage_record(stage),
                        codings: made,
                    });
                }
                Err(e) => {
                    failed.insert(c);
                    diagnostics.fail(format!(
                        "{}: stage `{}` ({}): {e}",
                        transcript.id, stage.name, stage.strategy_name
                    ))
                }
            }
        }
        Ok(Coded {
            codings,
            new_codings,
            failed,
            transcripts: todo.iter().map(|&(c, _)| c).collect(),
            pairs: todo.len(),
            reused,
        })
    }

    /// The digests found, in the study's order, with their keys and the
    /// stamps worth keeping (see [`trusted_stamp`]); and the transcripts
    /// that could not be read.
    fn in_study_order(
        &self,
        found: Found,
        started: SystemTime,
    ) -> (Vec<TranscriptDigest>, Vec<DigestKey>, Vec<String>) {
        let mut transcripts = Vec::new();
        let mut keys = Vec::new();
        let mut unreadable = Vec::new();
        for (((id, _), found), stamp) in self.study.plan.transcripts.iter().zip(found).zip(&self.stamps) {
            match found {
                Some((digest, key)) => {
                    transcripts.push(digest);
                    keys.push((key, trusted_stamp(*stamp, started)));
                }
                None => unreadable.push(id.clone()),
            }
        }
        (transcripts, keys, unreadable)
    }

    /// The analysis of these digests, before themes and areas.
    fn analysis_of(&self, transcripts: Vec<TranscriptDigest>) -> Analysis {
        let plan = &self.study.plan;
        Analysis {
            study: plan.config.study.study.name.clone(),
            questions: plan.questions.clone(),
            codes: plan.codes.clone(),
            participants: plan.participants.clone(),
            transcripts,
            themes: Vec::new(),
            areas: Vec::new(),
            min_participants: self.study.stages.themes.as_ref().map_or(0, |t| t.rule.min_participants),
            agreements: Vec::new(),
            learnt: self
                .study
                .stages
                .coding
                .iter()
                .filter_map(|s| s.strategy.learnt())
                .collect(),
            memos: plan.memos.clone(),
            warnings: Vec::new(),
        }
    }
}

/// A digest's key and the stamp of the file it was made from, if worth keeping.
type DigestKey = (String, Option<FileStamp>);

/// A file's stamp, if it can be trusted to tell the next pass whether the
/// file changed: not one modified this close to the pass's start, which may
/// change again within its clock's granularity without its stamp changing.
fn trusted_stamp(stamp: Option<(FileStamp, SystemTime)>, started: SystemTime) -> Option<FileStamp> {
    let settled = started.checked_sub(SETTLING).unwrap_or(UNIX_EPOCH);
    stamp
        .filter(|(_, modified)| *modified < settled)
        .map(|(stamp, _)| stamp)
}

/// What every stage logged for the run summary: (stage, message).
fn stage_logs(study: &Study) -> Vec<(String, String)> {
    let stages = &study.stages;
    let coding = stages
        .coding
        .iter()
        .map(|stage| (&stage.name, stage.strategy.take_log()));
    let grouping = stages
        .themes
        .iter()
        .map(|stage| (&stage.name, stage.grouper.take_log()));
    let mapping = stages.areas.iter().map(|stage| (&stage.name, stage.mapper.take_log()));
    coding
        .chain(grouping)
        .chain(mapping)
        .flat_map(|(name, messages)| messages.into_iter().map(move |message| (name.clone(), message)))
        .collect()
}

/// Phases 3 to 5 and the discussion areas, on the coded analysis. Extracts'
/// texts come from the transcripts read in this pass, or else from the store.
fn group(
    study: &Study,
    mut analysis: Analysis,
    read: &[Read],
    store: Option<&Store>,
    diagnostics: &mut Diagnostics,
) -> Analysis {
    let participants: Vec<String> = analysis.participant_ids().into_iter().map(str::to_string).collect();
    let participants: Vec<&str> = participants.iter().map(String::as_str).collect();
    if let Some(stage) = &study.stages.themes {
        let read: HashMap<&str, &Transcript> = read.iter().map(|r| (r.transcript.id.as_str(), &r.transcript)).collect();
        let mut lost = Vec::new();
        let mut said = |id: &str, turn: u32| {
            let in_memory = read.get(id).and_then(|t| {
                let at = t.segments.binary_search_by_key(&turn, |s| s.turn).ok()?;
                Some(t.segments[at].content().to_string())
            });
            let found = match (in_memory, store) {
                (Some(text), _) => Ok(Some(text)),
                (None, Some(store)) => store.said(id, turn),
                (None, None) => Ok(None),
            };
            found.ok().flatten().unwrap_or_else(|| {
                lost.push(format!(
                    "{id}: the text of turn {turn}, quoted as an extract, could not be found; run again to restore it"
                ));
                String::new()
            })
        };
        let mut summary = CodingSummary::new(&analysis.transcripts, stage.grouper.needs());
        if stage.grouper.reads_texts() {
            summary = summary.with_texts(&analysis.transcripts, &mut said);
        }
        let proposed = stage
            .grouper
            .group(&summary)
            .and_then(|candidates| check_candidates(&candidates).map(|()| candidates));
        match proposed {
            Ok(candidates) => {
                analysis.themes =
                    review_themes(&candidates, &analysis.transcripts, &participants, stage.rule, &mut said);
            }
            Err(e) => diagnostics.fail(format!("stage `{}` ({}): {e}", stage.name, stage.strategy_name)),
        }
        lost.sort_unstable();
        lost.dedup();
        lost.into_iter().for_each(|message| diagnostics.warn(message));
    }
    if let Some(stage) = &study.stages.areas {
        match stage.mapper.map(&analysis.themes) {
            Ok(areas) => {
                let (areas, warnings) = map_areas(areas, &analysis.themes);
                analysis.areas = areas;
                for warning in warnings {
                    diagnostics.warn(warning.clone());
                    analysis.warnings.push(warning);
                }
            }
            Err(e) => diagnostics.fail(format!("stage `{}` ({}): {e}", stage.name, stage.strategy_name)),
        }
    }
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_kept_only_once_its_file_has_settled() {
        let started = UNIX_EPOCH + Duration::from_secs(1_000);
        let stamp = FileStamp {
            size: 10,
            modified_ns: 1,
        };
        let at = |seconds_before: u64| Some((stamp, started - Duration::from_secs(seconds_before)));
        assert_eq!(trusted_stamp(at(60), started), Some(stamp));
        assert_eq!(
            trusted_stamp(at(1), started),
            None,
            "saved within the clock's granularity"
        );
        assert_eq!(trusted_stamp(None, started), None);
    }

    #[test]
    fn a_path_forgotten_is_read_again_with_everything_below_it() {
        let mut carried = Carried::default();
        carried.forget_path("transcripts/group");
        assert!(carried.is_unsure("transcripts/group/P1.txt"));
        assert!(carried.is_unsure("transcripts/group"));
        assert!(
            !carried.is_unsure("transcripts/group2/P1.txt"),
            "a sibling whose name starts alike"
        );
        assert!(!carried.is_unsure("transcripts/P1.txt"));
        carried.forget_files();
        assert!(carried.is_unsure("transcripts/P1.txt"));
    }
}
