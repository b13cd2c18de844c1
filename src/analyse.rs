//! One pass of the pipeline over a loaded study: read and segment the
//! transcripts, code them (reusing what the store already holds), then
//! review themes and map areas. Writes nothing; the caller decides what to keep.

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
}

pub fn analyse(study: &Study, store: Option<&Store>, diagnostics: &mut Diagnostics) -> anyhow::Result<Analysed> {
    let ReadTranscripts {
        transcripts,
        unreadable,
    } = read_transcripts(study, diagnostics);

    let mut codings: Vec<Coding> = Vec::new();
    let mut todo: Vec<(usize, usize)> = Vec::new();
    let mut reused = 0;
    for (t, transcript) in transcripts.iter().enumerate() {
        for (s, stage) in study.coding_stages.iter().enumerate() {
            let stored = match store {
                Some(store) => store.stored_codings(&transcript.content_hash, &stage.fingerprint, &transcript.id)?,
                None => None,
            };
            match stored {
                Some(stored) => {
                    tracing::debug!(transcript = %transcript.id, stage = %stage.name, codings = stored.len(), "reused stored codings");
                    codings.extend(stored);
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
                codings.extend(made.iter().cloned());
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
    codings.sort_by(|a, b| (&a.transcript, a.turn, &a.code, &a.stage).cmp(&(&b.transcript, b.turn, &b.code, &b.stage)));

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
    let coded_transcripts: std::collections::BTreeSet<usize> = todo.iter().map(|&(t, _)| t).collect();
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
}

/// Reads, decodes and segments every transcript; one that cannot be read is
/// reported and left out.
pub fn read_transcripts(study: &Study, diagnostics: &mut Diagnostics) -> ReadTranscripts {
    let read = parallel::map_ordered(
        &study.transcripts,
        || (),
        |(id, path), _| {
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
    let mut transcripts = Vec::new();
    let mut unreadable = Vec::new();
    for ((id, _), result) in study.transcripts.iter().zip(read) {
        match result {
            Ok((transcript, warnings)) => {
                warnings.into_iter().for_each(|w| diagnostics.warn(w));
                transcripts.push(transcript);
            }
            Err(message) => {
                diagnostics.fail(message);
                unreadable.push(id.clone());
            }
        }
    }
    ReadTranscripts {
        transcripts,
        unreadable,
    }
}
