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
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thematic_formats::{Document, TimedTurn};
use thematic_model::{Analysis, Coding, Transcript, TranscriptDigest, PARTICIPANT_ROLE};
use thematic_pipeline::{
    check_candidates, code_transcript, digest, map_areas, review_themes, transcript_from_text, transcript_from_turns,
    CodingStage, CodingSummary,
};
use thematic_store::{FileStamp, NewCodings, StageRecord, Store, StoreError, StoredTranscript};

use crate::diagnostics::Diagnostics;
use crate::files::{read_document, sha256_hex};
use crate::plan::Plan;
use crate::study::Study;
use crate::{parallel, progress};

/// A file modified this close to a pass's start may change again within its
/// clock's granularity without its stamp changing: it is read again next time.
const SETTLING: Duration = Duration::from_secs(2);

/// A transcript read from its file in a pass: its segments, and its whole
/// text as analysed (decoded, redacted, a caption file's turns joined).
pub struct Read {
    pub transcript: Transcript,
    pub text: String,
}

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
    pub keys: Vec<(String, Option<FileStamp>)>,
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

pub fn analyse(
    study: &Study,
    store: Option<&Store>,
    carried: &mut Carried,
    diagnostics: &mut Diagnostics,
) -> anyhow::Result<Analysed> {
    let started = SystemTime::now();
    let stored: HashMap<String, StoredTranscript> = match store {
        Some(store) => store.transcripts()?,
        None => HashMap::new(),
    };
    let stages: String = study
        .stages
        .coding
        .iter()
        .map(|s| format!("{}={}\n", s.name, s.fingerprint))
        .collect();
    let stamps: Vec<Option<(FileStamp, SystemTime)>> = study
        .plan
        .transcripts
        .iter()
        .map(|(_, path)| file_stamp(path))
        .collect();

    // The key a digest of this text of `id` has now, and whether the store's digest was made under it.
    let key_of = |id: &str, content_hash: &str| {
        let key = digest_key(study, &stages, &study.plan.participant_of(id), content_hash);
        let current = stored
            .get(id)
            .is_some_and(|s| s.content_hash == content_hash && s.digest_key.as_deref() == Some(key.as_str()));
        (key, current)
    };

    // Each transcript's digest and its key, in the study's order; none for a file that cannot be read.
    // Transcripts whose files did not change since the store recorded them keep their digests:
    // the last pass's, or else the store's, all read at once.
    let mut found: Vec<Option<(TranscriptDigest, String)>> = vec![None; study.plan.transcripts.len()];
    let mut from_store: Vec<(usize, String)> = Vec::new();
    let mut to_read = Vec::new();
    for (i, (id, path)) in study.plan.transcripts.iter().enumerate() {
        let unchanged = match (stored.get(id), &stamps[i]) {
            (Some(state), Some((now, _))) if state.file == Some(*now) && !carried.is_unsure(id) => {
                Some(key_of(id, &state.content_hash)).filter(|(_, current)| *current)
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
    if let (Some(store), false) = (store, from_store.is_empty()) {
        let wanted: HashSet<&str> = from_store
            .iter()
            .map(|(i, _)| study.plan.transcripts[*i].0.as_str())
            .collect();
        let mut digests = store.digests(&wanted)?;
        for (i, key) in from_store {
            let (id, path) = &study.plan.transcripts[i];
            match digests.remove(id) {
                Some(digest) => found[i] = Some((digest, key)),
                None => to_read.push((i, id.clone(), path.clone())),
            }
        }
        to_read.sort_unstable_by_key(|(i, _, _)| *i);
    }
    let read = parallel::map_ordered(
        &to_read,
        || (),
        |(_, id, path), _| read_one(&study.plan, id, path),
        || {},
    );
    // Transcripts read whose text (or key) changed: coded below, with the key their digests will have.
    let mut read_transcripts: Vec<(usize, Transcript, String)> = Vec::new();
    // Their whole texts, in the same order, for the store.
    let mut texts: Vec<String> = Vec::new();
    for ((i, id, _), result) in to_read.iter().zip(read) {
        match result {
            Ok((Read { transcript, text }, warnings)) => {
                warnings.into_iter().for_each(|w| diagnostics.warn(w));
                // The same text under the same key: a file touched, or one the watcher saw change back.
                let (key, current) = key_of(id, &transcript.content_hash);
                let kept = match store {
                    Some(store) if current => carried.take(store, id, &key)?,
                    _ => None,
                };
                match kept {
                    Some(digest) => found[*i] = Some((digest, key)),
                    None => {
                        read_transcripts.push((*i, transcript, key));
                        texts.push(text);
                    }
                }
            }
            Err(message) => diagnostics.fail(message),
        }
    }

    // Each read transcript's codings, stage by stage: from the store where that text was coded before.
    let mut per_transcript: Vec<Vec<Coding>> = vec![Vec::new(); read_transcripts.len()];
    let mut todo: Vec<(usize, usize)> = Vec::new();
    let mut reused = 0;
    for (r, (_, transcript, _)) in read_transcripts.iter().enumerate() {
        for (s, stage) in study.stages.coding.iter().enumerate() {
            let stored = match store {
                Some(store) => store.stored_codings(&transcript.content_hash, &stage.fingerprint, &transcript.id)?,
                None => None,
            };
            match stored {
                Some(stored) => {
                    tracing::debug!(transcript = %transcript.id, stage = %stage.name, codings = stored.len(), "reused stored codings");
                    per_transcript[r].extend(stored);
                    reused += 1;
                }
                None => todo.push((r, s)),
            }
        }
    }
    // Strategies see annotations (`[laughs]`, `(redacted)`) blanked out.
    let blanked: Vec<Option<Transcript>> = read_transcripts
        .iter()
        .map(|(_, transcript, _)| study.plan.annotations.blanked(transcript))
        .collect();
    let bar = progress::bar(todo.len(), "coding");
    let results = parallel::map_ordered(
        &todo,
        || (),
        |&(r, s), _| {
            let seen = blanked[r].as_ref().unwrap_or(&read_transcripts[r].1);
            code_transcript(&study.stages.coding[s], seen)
        },
        || bar.inc(1),
    );
    bar.finish_and_clear();
    let mut new_codings = Vec::new();
    let mut failed: HashSet<usize> = HashSet::new();
    for (&(r, s), result) in todo.iter().zip(results) {
        let (transcript, stage) = (&read_transcripts[r].1, &study.stages.coding[s]);
        match result {
            Ok(made) => {
                tracing::debug!(transcript = %transcript.id, stage = %stage.name, codings = made.len(), "coded");
                per_transcript[r].extend(made.iter().cloned());
                new_codings.push(NewCodings {
                    content_hash: transcript.content_hash.clone(),
                    stage: stage_record(stage),
                    codings: made,
                });
            }
            Err(e) => {
                failed.insert(r);
                diagnostics.fail(format!(
                    "{}: stage `{}` ({}): {e}",
                    transcript.id, stage.name, stage.strategy_name
                ))
            }
        }
    }
    // A stage that failed on a transcript leaves its digest unkeyed, so that the next pass tries again.
    for (r, (i, transcript, key)) in read_transcripts.iter().enumerate() {
        let key = if failed.contains(&r) {
            String::new()
        } else {
            key.clone()
        };
        found[*i] = Some((digest(transcript, &per_transcript[r]), key));
    }

    let settled = started.checked_sub(SETTLING).unwrap_or(UNIX_EPOCH);
    let mut transcripts = Vec::new();
    let mut keys = Vec::new();
    let mut unreadable = Vec::new();
    for (((id, _), found), stamp) in study.plan.transcripts.iter().zip(found).zip(&stamps) {
        match found {
            Some((digest, key)) => {
                let trusted = stamp
                    .filter(|(_, modified)| *modified < settled)
                    .map(|(stamp, _)| stamp);
                transcripts.push(digest);
                keys.push((key, trusted));
            }
            None => unreadable.push(id.clone()),
        }
    }
    let read: Vec<Read> = read_transcripts
        .into_iter()
        .zip(texts)
        .map(|((_, transcript, _), text)| Read { transcript, text })
        .collect();

    let analysis = Analysis {
        study: study.plan.config.study.study.name.clone(),
        questions: study.plan.questions.clone(),
        codes: study.plan.codes.clone(),
        participants: study.plan.participants.clone(),
        transcripts,
        themes: Vec::new(),
        areas: Vec::new(),
        min_participants: study.stages.themes.as_ref().map_or(0, |t| t.rule.min_participants),
        agreements: Vec::new(),
        warnings: Vec::new(),
    };
    let analysis = group(study, analysis, &read, store, diagnostics);
    let stages = study
        .stages
        .coding
        .iter()
        .map(|stage| (&stage.name, stage.strategy.take_log()));
    let grouping = study
        .stages
        .themes
        .iter()
        .map(|stage| (&stage.name, stage.grouper.take_log()));
    let mapping = study
        .stages
        .areas
        .iter()
        .map(|stage| (&stage.name, stage.mapper.take_log()));
    let logs: Vec<(String, String)> = stages
        .chain(grouping)
        .chain(mapping)
        .flat_map(|(name, messages)| messages.into_iter().map(move |message| (name.clone(), message)))
        .collect();
    let coded_transcripts: BTreeSet<usize> = todo.iter().map(|&(r, _)| r).collect();
    let segments_coded = coded_transcripts
        .iter()
        .map(|&r| read[r].transcript.segments.len())
        .sum();
    // Transcripts not read reused every stage's codings, inside their digests.
    let reused = reused + (analysis.transcripts.len() - read.len()) * study.stages.coding.len();
    Ok(Analysed {
        analysis,
        keys,
        read,
        files_read: to_read.len().saturating_sub(unreadable.len()),
        new_codings,
        unreadable,
        logs,
        coded: todo.len(),
        reused,
        segments_coded,
    })
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
        let summary = CodingSummary::new(&analysis.transcripts, stage.grouper.needs());
        let proposed = stage
            .grouper
            .group(&summary)
            .and_then(|candidates| check_candidates(&candidates).map(|()| candidates));
        match proposed {
            Ok(candidates) => {
                let read: HashMap<&str, &Transcript> =
                    read.iter().map(|r| (r.transcript.id.as_str(), &r.transcript)).collect();
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
                        lost.push(format!("{id}: the text of turn {turn}, quoted as an extract, could not be found; run again to restore it"));
                        String::new()
                    })
                };
                analysis.themes =
                    review_themes(&candidates, &analysis.transcripts, &participants, stage.rule, &mut said);
                lost.into_iter().for_each(|message| diagnostics.warn(message));
            }
            Err(e) => diagnostics.fail(format!("stage `{}` ({}): {e}", stage.name, stage.strategy_name)),
        }
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

/// Reads, decodes and segments every transcript of the study; one that
/// cannot be read is reported and left out.
pub fn read_transcripts(plan: &Plan, diagnostics: &mut Diagnostics) -> Vec<Transcript> {
    let read = parallel::map_ordered(
        &plan.transcripts,
        || (),
        |(id, path), _| read_one(plan, id, path),
        || {},
    );
    let mut transcripts = Vec::new();
    for result in read {
        match result {
            Ok((read, warnings)) => {
                warnings.into_iter().for_each(|w| diagnostics.warn(w));
                transcripts.push(read.transcript);
            }
            Err(message) => diagnostics.fail(message),
        }
    }
    transcripts
}

/// A transcript file read and redacted: what every later step sees.
/// Redaction comes first: no other step, message or file sees the names.
pub fn redacted_document(plan: &Plan, path: &Path) -> Result<Document, String> {
    Ok(match read_document(path).map_err(|e| plan.redacted(&e))? {
        Document::Text(text) => Document::Text(plan.redacted(&text)),
        Document::Turns(turns) => Document::Turns(
            turns
                .into_iter()
                .map(|turn| TimedTurn {
                    speaker: turn.speaker.map(|speaker| plan.redacted(&speaker)),
                    text: plan.redacted(&turn.text),
                    ..turn
                })
                .collect(),
        ),
    })
}

/// What a study analyses of a transcript file: its text (decoded, redacted,
/// a caption file's or timed document's turns joined, as offsets count in
/// it) and its content hash.
pub fn analysed_text(plan: &Plan, id: &str, path: &Path) -> Result<(String, String), String> {
    let (read, _) = read_one(plan, id, path)?;
    Ok((read.text, read.transcript.content_hash))
}

/// Reads, decodes, redacts and segments one transcript; the warnings are about its segmentation.
pub(crate) fn read_one(plan: &Plan, id: &str, path: &Path) -> Result<(Read, Vec<String>), String> {
    let participant = plan.interviewee_of(id);
    let roles = plan.roles_of(id);
    let document = redacted_document(plan, path)?;
    let (transcript, mut warnings) = match &document {
        Document::Text(text) => {
            transcript_from_text(id, text, &sha256_hex(text.as_bytes()), participant.as_deref(), &roles)
        }
        Document::Turns(turns) => {
            // Scripts see when turns were said: re-timed captions are changed content.
            let times: String = turns
                .iter()
                .map(|t| format!("{:?}-{:?};", t.start_ms, t.end_ms))
                .collect();
            let hash = |text: &str| sha256_hex(format!("{text}\0{times}").as_bytes());
            transcript_from_turns(id, turns, hash, participant.as_deref(), &roles)
        }
    };
    if plan.config.study.transcripts.speakers.contains_key(id) {
        let unmapped: BTreeSet<&str> = transcript
            .segments
            .iter()
            .filter(|s| s.role == PARTICIPANT_ROLE && s.participant.is_none())
            .filter_map(|s| s.speaker.as_deref())
            .collect();
        if !unmapped.is_empty() {
            let labels: Vec<String> = unmapped.iter().map(|label| format!("`{label}`")).collect();
            warnings.push(format!(
                "{id}: speakers {} are not in transcripts.speakers; their turns speak for no participant",
                labels.join(", ")
            ));
        }
    }
    let text = document.into_text();
    Ok((Read { transcript, text }, warnings))
}
