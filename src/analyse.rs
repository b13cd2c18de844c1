//! One pass of the pipeline over a loaded study: read and segment the
//! transcripts, code them (reusing what the store already holds), then
//! review themes and map areas. Writes nothing; the caller decides what to keep.
//! A long-running caller hands each pass what the last one [`Carried`], so
//! that only files that changed are read and only new text is coded.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::time::SystemTime;

use thematic_model::{Analysis, Coding, Question, Transcript};
use thematic_pipeline::{
    check_candidates, code_transcript, map_areas, review_themes, transcript_from_text, CodingSummary,
};
use thematic_store::{NewCodings, StageRecord, Store};

use crate::files::{read_transcript, sha256_hex};
use crate::outcome::Diagnostics;
use crate::study::Study;
use crate::{parallel, progress};

pub struct Analysed {
    pub analysis: Analysis,
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
    /// Each transcript file's stamp when it was read.
    pub stamps: HashMap<String, FileStamp>,
    /// The (content hash, stage fingerprint) pairs coded or reused.
    pub done: HashSet<(String, String)>,
}

/// A file's size and modification time.
pub type FileStamp = (u64, Option<SystemTime>);

fn stamp(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path)
        .ok()
        .map(|meta| (meta.len(), meta.modified().ok()))
}

/// What a pass leaves for the next in a long-running session (watch mode).
#[derive(Default)]
pub struct Carried {
    /// The configuration the transcripts were segmented under.
    config_hash: String,
    /// Transcripts as read, with their files' stamps: a file whose stamp is
    /// the same is not read again.
    transcripts: HashMap<String, (FileStamp, Transcript)>,
    /// Codings by (content hash, stage fingerprint), taken instead of the store's.
    codings: HashMap<(String, String), Vec<Coding>>,
}

impl Carried {
    /// Forgets the files' stamps, so that the next pass reads every file
    /// and compares it by content (after the watcher lost events).
    pub fn forget_files(&mut self) {
        self.transcripts.clear();
    }

    /// Forgets the transcript at `id` (a path relative to the study) and any
    /// below it, so that the next pass reads them whatever their stamps say:
    /// an edit can keep a file's size within its modification time's granularity.
    pub fn forget_path(&mut self, id: &str) {
        let below = format!("{id}/");
        self.transcripts
            .retain(|kept, _| kept != id && !kept.starts_with(&below));
    }

    /// Takes a finished pass apart for the next.
    /// `done`: the (content hash, stage fingerprint) pairs the pass coded or reused.
    pub fn keep(
        study: &Study,
        analysis: Analysis,
        mut stamps: HashMap<String, FileStamp>,
        done: HashSet<(String, String)>,
    ) -> Carried {
        let fingerprints: HashMap<&str, &str> = study
            .coding_stages
            .iter()
            .map(|s| (s.name.as_str(), s.fingerprint.as_str()))
            .collect();
        let hashes: HashMap<&str, &str> = analysis
            .transcripts
            .iter()
            .map(|t| (t.id.as_str(), t.content_hash.as_str()))
            .collect();
        let mut first_with_text: HashMap<&str, &str> = HashMap::new();
        for transcript in &analysis.transcripts {
            first_with_text
                .entry(transcript.content_hash.as_str())
                .or_insert(transcript.id.as_str());
        }
        let mut codings: HashMap<(String, String), Vec<Coding>> = HashMap::new();
        let mut by_stage: HashMap<&str, Vec<Coding>> = HashMap::new();
        let mut codings_in = analysis.codings.into_iter().peekable();
        // Codings come sorted by transcript: each transcript's are sorted by stage here.
        while let Some(first) = codings_in.next() {
            let transcript = first.transcript.clone();
            let mut next = Some(first);
            while let Some(coding) = next {
                if let Some(fingerprint) = fingerprints.get(coding.stage.as_str()) {
                    by_stage.entry(fingerprint).or_default().push(coding);
                }
                next = codings_in.next_if(|c| c.transcript == transcript);
            }
            // Two files with the same text have the same codings: the first one's are kept.
            let hash = hashes
                .get(transcript.as_str())
                .filter(|hash| first_with_text.get(**hash) == Some(&transcript.as_str()));
            for (fingerprint, kept) in by_stage.drain() {
                if let Some(hash) = hash {
                    codings
                        .entry((hash.to_string(), fingerprint.to_string()))
                        .or_default()
                        .extend(kept);
                }
            }
        }
        // Text a stage coded to nothing counts as coded; text a stage failed on does not.
        for key in done {
            codings.entry(key).or_default();
        }
        let transcripts = analysis
            .transcripts
            .into_iter()
            .filter_map(|t| stamps.remove(&t.id).map(|stamp| (t.id.clone(), (stamp, t))))
            .collect();
        Carried {
            config_hash: study.config_hash.clone(),
            transcripts,
            codings,
        }
    }
}

pub fn analyse(
    study: &Study,
    store: Option<&Store>,
    carried: &mut Carried,
    diagnostics: &mut Diagnostics,
) -> anyhow::Result<Analysed> {
    let ReadTranscripts {
        transcripts,
        unreadable,
        stamps,
    } = read_transcripts(study, carried, diagnostics);

    // Each transcript's codings apart, so that ordering them compares turns, not transcript ids.
    let mut per_transcript: Vec<Vec<Coding>> = vec![Vec::new(); transcripts.len()];
    let mut todo: Vec<(usize, usize)> = Vec::new();
    let mut reused = 0;
    let mut done = HashSet::new();
    for (t, transcript) in transcripts.iter().enumerate() {
        for (s, stage) in study.coding_stages.iter().enumerate() {
            let key = (transcript.content_hash.clone(), stage.fingerprint.clone());
            let stored = match (carried.codings.remove(&key), store) {
                (Some(mut kept), _) => {
                    // The same text may be a renamed or copied file.
                    for coding in kept.iter_mut().filter(|c| c.transcript != transcript.id) {
                        coding.transcript = transcript.id.clone();
                    }
                    Some(kept)
                }
                (None, Some(store)) => {
                    store.stored_codings(&transcript.content_hash, &stage.fingerprint, &transcript.id)?
                }
                (None, None) => None,
            };
            if stored.is_some() {
                done.insert(key);
            }
            match stored {
                Some(stored) => {
                    tracing::debug!(transcript = %transcript.id, stage = %stage.name, codings = stored.len(), "reused stored codings");
                    per_transcript[t].extend(stored);
                    reused += 1;
                }
                None => todo.push((t, s)),
            }
        }
    }
    let bar = progress::bar(todo.len(), "coding");
    let results = parallel::map_ordered(
        &todo,
        || (),
        |&(t, s), _| code_transcript(&study.coding_stages[s], &transcripts[t]),
        || bar.inc(1),
    );
    bar.finish_and_clear();
    let mut new_codings = Vec::new();
    for (&(t, s), result) in todo.iter().zip(results) {
        let (transcript, stage) = (&transcripts[t], &study.coding_stages[s]);
        match result {
            Ok(made) => {
                tracing::debug!(transcript = %transcript.id, stage = %stage.name, codings = made.len(), "coded");
                done.insert((transcript.content_hash.clone(), stage.fingerprint.clone()));
                per_transcript[t].extend(made.iter().cloned());
                new_codings.push(NewCodings {
                    content_hash: transcript.content_hash.clone(),
                    stage: StageRecord {
                        name: stage.name.clone(),
                        strategy: stage.strategy_name.clone(),
                        fingerprint: stage.fingerprint.clone(),
                    },
                    codings: made,
                });
            }
            Err(e) => diagnostics.fail(format!(
                "{}: stage `{}` ({}): {e}",
                transcript.id, stage.name, stage.strategy_name
            )),
        }
    }
    let mut order: Vec<usize> = (0..transcripts.len()).collect();
    order.sort_by(|&a, &b| transcripts[a].id.cmp(&transcripts[b].id));
    let mut codings: Vec<Coding> = Vec::with_capacity(per_transcript.iter().map(Vec::len).sum());
    for t in order {
        let mut theirs = std::mem::take(&mut per_transcript[t]);
        theirs.sort_by(|a, b| (a.turn, &a.code, &a.stage).cmp(&(b.turn, &b.code, &b.stage)));
        codings.append(&mut theirs);
    }

    let analysis = Analysis {
        study: study.config.study.study.name.clone(),
        questions: study
            .config
            .study
            .questions
            .iter()
            .map(|q| Question {
                id: q.id.get_ref().clone(),
                text: q.text.clone(),
            })
            .collect(),
        codes: study.codes.clone(),
        participants: study.participants.clone(),
        transcripts,
        codings,
        themes: Vec::new(),
        areas: Vec::new(),
        min_participants: study.themes.as_ref().map_or(0, |t| t.rule.min_participants),
        warnings: Vec::new(),
    };
    let analysis = group(study, analysis, diagnostics);
    let stages = study
        .coding_stages
        .iter()
        .map(|stage| (&stage.name, stage.strategy.take_log()));
    let grouping = study.themes.iter().map(|stage| (&stage.name, stage.grouper.take_log()));
    let mapping = study.areas.iter().map(|stage| (&stage.name, stage.mapper.take_log()));
    let logs: Vec<(String, String)> = stages
        .chain(grouping)
        .chain(mapping)
        .flat_map(|(name, messages)| messages.into_iter().map(move |message| (name.clone(), message)))
        .collect();
    let coded_transcripts: BTreeSet<usize> = todo.iter().map(|&(t, _)| t).collect();
    let segments_coded = coded_transcripts
        .iter()
        .map(|&t| analysis.transcripts[t].segments.len())
        .sum();
    Ok(Analysed {
        analysis,
        new_codings,
        unreadable,
        logs,
        coded: todo.len(),
        reused,
        segments_coded,
        stamps,
        done,
    })
}

/// Phases 3 to 5 and the discussion areas, on the coded analysis.
fn group(study: &Study, mut analysis: Analysis, diagnostics: &mut Diagnostics) -> Analysis {
    let participants: Vec<String> = analysis.participant_ids().into_iter().map(str::to_string).collect();
    let participants: Vec<&str> = participants.iter().map(String::as_str).collect();
    if let Some(stage) = &study.themes {
        let summary = CodingSummary::new(&analysis.transcripts, &analysis.codings);
        let proposed = stage
            .grouper
            .group(&summary)
            .and_then(|candidates| check_candidates(&candidates).map(|()| candidates));
        match proposed {
            Ok(candidates) => {
                analysis.themes = review_themes(
                    &candidates,
                    &analysis.transcripts,
                    &analysis.codings,
                    &participants,
                    stage.rule,
                )
            }
            Err(e) => diagnostics.fail(format!("stage `{}` ({}): {e}", stage.name, stage.strategy_name)),
        }
    }
    if let Some(stage) = &study.areas {
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

/// Transcripts of a study as read this time.
pub struct ReadTranscripts {
    pub transcripts: Vec<Transcript>,
    /// Ids of transcripts that are in the study but could not be read.
    pub unreadable: Vec<String>,
    /// Each transcript file's stamp when it was read.
    pub stamps: HashMap<String, FileStamp>,
}

/// Reads, decodes and segments every transcript, except those `carried`
/// holds as read from a file with the same stamp under the same
/// configuration; one that cannot be read is reported and left out.
pub fn read_transcripts(study: &Study, carried: &mut Carried, diagnostics: &mut Diagnostics) -> ReadTranscripts {
    let same_configuration = carried.config_hash == study.config_hash;
    let mut kept: HashMap<String, Transcript> = HashMap::new();
    let mut stamps = HashMap::new();
    let mut to_read = Vec::new();
    for (id, path) in &study.transcripts {
        let now = stamp(path);
        match (carried.transcripts.remove(id), now) {
            (Some((then, transcript)), Some(now)) if same_configuration && then == now => {
                kept.insert(id.clone(), transcript);
                stamps.insert(id.clone(), now);
            }
            _ => to_read.push((id.clone(), path.clone(), now)),
        }
    }
    let read = parallel::map_ordered(
        &to_read,
        || (),
        |(id, path, _), _| {
            let text = read_transcript(path)?;
            let participant = study.participant_of(id);
            Ok::<_, String>(transcript_from_text(
                id,
                &text,
                &sha256_hex(text.as_bytes()),
                Some(&participant),
                &study.roles,
            ))
        },
        || {},
    );
    let mut read: HashMap<String, Result<_, String>> = to_read.iter().map(|(id, _, _)| id.clone()).zip(read).collect();
    let stamped: HashMap<&String, Option<FileStamp>> = to_read.iter().map(|(id, _, now)| (id, *now)).collect();
    let mut transcripts = Vec::new();
    let mut unreadable = Vec::new();
    for (id, _) in &study.transcripts {
        if let Some(transcript) = kept.remove(id) {
            transcripts.push(transcript);
            continue;
        }
        match read.remove(id) {
            Some(Ok((transcript, warnings))) => {
                warnings.into_iter().for_each(|w| diagnostics.warn(w));
                if let Some(Some(now)) = stamped.get(id) {
                    stamps.insert(id.clone(), *now);
                }
                transcripts.push(transcript);
            }
            Some(Err(message)) => {
                diagnostics.fail(message);
                unreadable.push(id.clone());
            }
            None => {}
        }
    }
    ReadTranscripts {
        transcripts,
        unreadable,
        stamps,
    }
}
