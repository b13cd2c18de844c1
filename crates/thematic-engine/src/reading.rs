//! Transcript files read as every step sees them: decoded, redacted first,
//! segmented into turns with their roles. Used by a pass, by the stages that
//! learn from a person's transcripts and by what serves one transcript.

use std::collections::BTreeSet;
use std::path::Path;

use thematic_formats::{Document, TimedTurn};
use thematic_model::{Transcript, PARTICIPANT_ROLE};
use thematic_pipeline::{transcript_from_text, transcript_from_turns};

use crate::diagnostics::Diagnostics;
use crate::files::{read_document, sha256_hex};
use crate::parallel;
use crate::plan::Plan;

/// A transcript read from its file in a pass: its segments, and its whole
/// text as analysed (decoded, redacted, a caption file's turns joined).
pub struct Read {
    pub transcript: Transcript,
    pub text: String,
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
