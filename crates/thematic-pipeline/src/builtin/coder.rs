//! `strategy = "coder"`: the codings a person made, read from a CSV
//! (`thematic import qdpx` writes one per coder of a REFI-QDA project), so
//! that a human coder stands beside the engine's strategies: in the
//! reports, in `thematic agree`, in exports.
//!
//! Rows are `transcript,code,start,end[,transcript_sha256]`: the
//! transcript's id, the code, and half-open code-point offsets into the
//! transcript's text. A person codes stretches of text, not turns: a
//! stretch over several turns codes each of them with its part. The hash,
//! where given, is of the text a coding was made on; on a transcript that
//! has changed since, a coding that kept its words (`words`, as the
//! workbench writes them) is applied where those words are now, and one
//! that did not, or whose words are gone, is not applied (and said so)
//! rather than coded at positions that no longer mean what the coder chose.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use thematic_codebook::Codebook;
use thematic_model::{Segment, Span, Transcript};

use crate::decisions::{Decided, DecisionsFile, Placement};
use crate::{CodeHit, CodingStrategy, StrategyError};

/// A coder's codings file: its name as messages show it, and its text.
pub struct CodingsFile<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

pub struct CoderStrategy {
    file: String,
    codes: Vec<String>,
    by_transcript: HashMap<String, TranscriptCodings>,
    log: Mutex<Vec<String>>,
}

#[derive(Default)]
struct TranscriptCodings {
    /// Each with the line of the file it is on.
    rows: Vec<(u64, Decided)>,
}

impl CoderStrategy {
    /// Reads the codings; with a codebook, every code must be one of its.
    pub fn new(file: &CodingsFile, codebook: Option<&Codebook>) -> Result<CoderStrategy, String> {
        let name = file.name;
        let decisions = DecisionsFile::parse(file)?;
        let known: Option<BTreeSet<&str>> = codebook.map(|b| b.codes.iter().map(|c| c.id.as_str()).collect());
        let mut by_transcript: HashMap<String, TranscriptCodings> = HashMap::new();
        let mut codes: BTreeSet<String> = BTreeSet::new();
        for (line, row) in decisions.rows_with_lines() {
            if known.as_ref().is_some_and(|k| !k.contains(row.code.as_str())) {
                return Err(format!(
                    "{name}:{line}: code `{}` is not in the stage's codebook ({})",
                    row.code,
                    codebook.map_or("", |b| b.source.as_str())
                ));
            }
            let entry = by_transcript.entry(row.transcript.clone()).or_default();
            codes.insert(row.code.clone());
            entry.rows.push((line, row.clone()));
        }
        Ok(CoderStrategy {
            file: name.to_string(),
            codes: match codebook {
                Some(book) => book.codes.iter().map(|c| c.id.clone()).collect(),
                None => codes.into_iter().collect(),
            },
            by_transcript,
            log: Mutex::new(Vec::new()),
        })
    }

    /// The transcripts the file has codings of.
    pub fn transcripts(&self) -> impl Iterator<Item = &str> {
        self.by_transcript.keys().map(String::as_str)
    }
}

impl CodingStrategy for CoderStrategy {
    fn known_codes(&self) -> Option<Vec<String>> {
        Some(self.codes.clone())
    }

    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn covers(&self, id: &str) -> bool {
        self.by_transcript.contains_key(id)
    }

    fn code(&self, transcript: &Transcript, segments: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError> {
        let Some(codings) = self.by_transcript.get(&transcript.id) else {
            return Ok(Vec::new());
        };
        let mut hits = Vec::new();
        let mut said = Vec::new();
        // A coding made on another text finds its words in a turn of this one.
        let turns = || transcript.segments.iter().map(|s| (s.start, s.text.as_str()));
        for (line, row) in &codings.rows {
            let code = &row.code;
            let (start, end) = match row.placed_in(turns(), &transcript.content_hash) {
                Placement::AsMade => (row.start, row.end),
                Placement::Found { start, end } => {
                    said.push(format!(
                        "{}:{line}: `{code}` was made on another version of {}; its words are found again at {start}–{end} and coded there",
                        self.file, transcript.id
                    ));
                    (start, end)
                }
                Placement::Lost => {
                    said.push(format!(
                        "{}:{line}: `{code}` at {}–{} was made on another version of {} and its words are not found in it now; not applied (code them again, or remove the row)",
                        self.file, row.start, row.end, transcript.id
                    ));
                    continue;
                }
            };
            let before = hits.len();
            for segment in segments.iter().filter(|s| s.start < end && start < s.end) {
                hits.push(CodeHit {
                    turn: segment.turn,
                    code: code.clone(),
                    spans: vec![Span {
                        start: start.max(segment.start),
                        end: end.min(segment.end),
                    }],
                    confidence: None,
                    memo: None,
                });
            }
            if hits.len() == before {
                said.push(format!(
                    "{}:{line}: `{code}` at {start}–{end} of {} lies in no turn this stage codes; not counted",
                    self.file, transcript.id
                ));
            }
        }
        if !said.is_empty() {
            self.log.lock().unwrap_or_else(|e| e.into_inner()).extend(said);
        }
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{transcript_from_text, RoleMap};

    fn transcript(text: &str) -> Transcript {
        let roles = RoleMap::new(&BTreeMap::from([(
            "Interviewer".to_string(),
            "interviewer".to_string(),
        )]));
        transcript_from_text("transcripts/P1.txt", text, "hash", Some("P1"), &roles).0
    }

    fn strategy(text: &str) -> Result<CoderStrategy, String> {
        CoderStrategy::new(
            &CodingsFile {
                name: "coders/a.csv",
                text,
            },
            None,
        )
    }

    #[test]
    fn stretches_code_the_turns_they_cover_with_their_part() {
        let t = transcript("Interviewer: Why?\nP1: I own it.\nInterviewer: And?\nP1: I keep it.\n");
        let own = t.segments[1].start + 4;
        let keep = t.segments[3].start + 10;
        let csv = format!(
            "transcript,code,start,end\n{id},ownership,{own},{keep}\n{id},ownership,0,3\n",
            id = t.id
        );
        let coder = strategy(&csv).unwrap();
        let coded: Vec<&Segment> = t.segments.iter().filter(|s| s.role == "participant").collect();
        let hits = coder.code(&t, &coded).unwrap();
        let spans: Vec<(u32, usize, usize)> = hits
            .iter()
            .map(|h| (h.turn, h.spans[0].start, h.spans[0].end))
            .collect();
        assert_eq!(
            spans,
            [(2, own, t.segments[1].end), (4, t.segments[3].start, keep)],
            "the interviewer's turn between is not coded: the stage does not code it"
        );
        let log = coder.take_log();
        assert_eq!(log.len(), 1);
        assert!(log[0].starts_with("coders/a.csv:3: `ownership` at 0–3 of"), "{log:?}");
    }

    #[test]
    fn on_a_changed_transcript_a_coding_finds_its_words_again_or_is_not_applied_and_bad_rows_are_named() {
        let text = "P1: Well, I do own it now, I own it.\n";
        let t = transcript(text);
        let coder = strategy(&format!(
            "transcript,code,start,end,transcript_sha256,words\n{id},ownership,30,36,0123,own it\n{id},risk,4,7,0123,\n{id},blame,4,7,0123,gone words\n",
            id = t.id
        ))
        .unwrap();
        let hits = coder.code(&t, &t.segments.iter().collect::<Vec<_>>()).unwrap();
        let second = text.rfind("own it").unwrap();
        let spans: Vec<(&str, usize, usize)> = hits
            .iter()
            .map(|h| (h.code.as_str(), h.spans[0].start, h.spans[0].end))
            .collect();
        assert_eq!(
            spans,
            [("ownership", second, second + 6)],
            "the occurrence nearest where it was"
        );
        let log = coder.take_log();
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(log[0].contains("its words are found again at"), "{log:?}");
        assert!(
            log[1].starts_with("coders/a.csv:3: `risk` at 4–7 was made on another version"),
            "{log:?}"
        );
        assert!(
            log[2].contains("its words are not found in it now; not applied"),
            "{log:?}"
        );
        let unknown = CoderStrategy::new(
            &CodingsFile {
                name: "coders/a.csv",
                text: "transcript,code,start,end\nt,ownership,1,4\nt,nothing,1,4\n",
            },
            Some(&Codebook {
                source: "codebook.csv".into(),
                codes: vec![thematic_model::Code {
                    id: "ownership".into(),
                    ..Default::default()
                }],
            }),
        )
        .err()
        .unwrap();
        assert!(
            unknown.starts_with("coders/a.csv:3: code `nothing` is not in the stage's codebook (codebook.csv)"),
            "{unknown}"
        );
    }
}
