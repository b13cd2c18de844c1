//! The data that flows between thematic's stages.
//!
//! Plain values with no behaviour beyond small queries: no IO, no parsing.
//! Offsets are Unicode code points into the transcript text, half-open
//! `[start, end)`, as REFI-QDA counts them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

mod memo;
mod workbench;
pub use memo::{Memo, MemoAbout, JOURNAL_FILE, MEMOS_FOLDER};
pub use workbench::{
    Decision, DeskArea, DeskError, DeskOutline, DeskTheme, DeskTranscript, MemoChange, MemoView, Saved, Standing,
    ThemeChange, TranscriptView, ViewCoding, ViewTurn,
};

/// The role given to speakers whose label is not mapped to another role.
pub const PARTICIPANT_ROLE: &str = "participant";

/// A case of the study and its attributes (gender, tier, ...), in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: String,
    pub attributes: Vec<(String, String)>,
}

impl Participant {
    /// The value of attribute `name`; empty where the participant has none.
    pub fn attribute(&self, name: &str) -> &str {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A transcript split into its speaker turns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    /// The path relative to the study folder, with `/` separators.
    pub id: String,
    /// The participant interviewed, if known.
    pub participant: Option<String>,
    pub content_hash: String,
    pub segments: Vec<Segment>,
}

/// One speaker turn: the unit that is coded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// 1 for the first turn of its transcript.
    pub turn: u32,
    pub speaker: Option<String>,
    pub role: String,
    /// The participant who speaks, for turns in a participant role.
    pub participant: Option<String>,
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// When the turn was said, in milliseconds from the start of the
    /// recording, where the transcript says (captions, timestamped speaker lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
}

impl Segment {
    /// What was said: the text without its speaker label.
    pub fn content(&self) -> &str {
        match (&self.speaker, self.text.split_once(':')) {
            (Some(_), Some((_, rest))) => rest.trim_start(),
            _ => &self.text,
        }
    }

    /// The transcript span of bytes `start..end` of the text, for strategies
    /// that find things by byte (regular expressions, Lua's string functions,
    /// plugins); `None` unless it is a non-empty stretch of the text that
    /// starts and ends on character boundaries.
    pub fn span_of_bytes(&self, start: usize, end: usize) -> Option<Span> {
        let text = &self.text;
        if start >= end || end > text.len() || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return None;
        }
        let before = self.start + text[..start].chars().count();
        Some(Span {
            start: before,
            end: before + text[start..end].chars().count(),
        })
    }

    /// Words said, the speaker label not counted: runs of characters
    /// between Unicode white space, as `str::split_whitespace` splits them.
    pub fn word_count(&self) -> usize {
        let space = |byte: u8| byte == b' ' || (b'\t'..=b'\r').contains(&byte);
        let mut words = 0;
        let mut after_space = true;
        let mut rest = self.content();
        loop {
            // Runs of ASCII are counted without branches, so that they run on
            // vectors: a word starts where a space is followed by a non-space.
            let ascii_end = rest.bytes().position(|b| !b.is_ascii()).unwrap_or(rest.len());
            let ascii = &rest.as_bytes()[..ascii_end];
            if let (Some(&first), Some(&last)) = (ascii.first(), ascii.last()) {
                words += usize::from(after_space & !space(first));
                words += ascii
                    .iter()
                    .zip(&ascii[1..])
                    .map(|(&before, &at)| usize::from(space(before) & !space(at)))
                    .sum::<usize>();
                after_space = space(last);
            }
            let mut chars = rest[ascii_end..].chars();
            let Some(c) = chars.next() else { break };
            let is_space = c.is_whitespace();
            words += usize::from(after_space & !is_space);
            after_space = is_space;
            rest = chars.as_str();
        }
        words
    }
}

/// A transcript as the review and the reports see it: who speaks each turn,
/// how much was said, and which codes each turn carries, but not its text
/// (extracts are looked up when chosen). Small enough to keep for every
/// transcript of a large study between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptDigest {
    pub id: String,
    pub participant: Option<String>,
    pub content_hash: String,
    /// Words said, speaker labels not counted, and those said in the participant role.
    pub words: usize,
    pub participant_words: usize,
    /// Every turn in order, with the participant who speaks it (an index into `speakers`).
    pub turns: Vec<(u32, Option<u32>)>,
    /// Participants who speak, in order of their first turn.
    pub speakers: Vec<String>,
    /// Codings made by all stages together.
    pub codings: usize,
    /// The codes used, in name order.
    pub codes: Vec<String>,
    /// (code index into `codes`, turn) for each code on each turn, once
    /// however many stages put it there; sorted.
    pub coded: Vec<(u32, u32)>,
}

impl TranscriptDigest {
    /// The participant who speaks `turn`, if any.
    pub fn speaker_of(&self, turn: u32) -> Option<&str> {
        self.speaker_number(turn).map(|s| self.speakers[s as usize].as_str())
    }

    /// The index into `speakers` of the participant who speaks `turn`, if any.
    pub fn speaker_number(&self, turn: u32) -> Option<u32> {
        self.turns[self.turn_place(turn)?].1
    }

    /// Where `turn` is in `turns`, if the transcript has it.
    pub fn turn_place(&self, turn: u32) -> Option<usize> {
        // Turns are numbered from 1 in order: a turn's place is its number less one.
        match self.turns.get((turn as usize).wrapping_sub(1)) {
            Some(&(t, _)) if t == turn => Some(turn as usize - 1),
            _ => self.turns.binary_search_by_key(&turn, |&(t, _)| t).ok(),
        }
    }

    /// Each code on each turn, as (code, turn), sorted by code then turn.
    pub fn coded_turns(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.coded
            .iter()
            .map(|&(code, turn)| (self.codes[code as usize].as_str(), turn))
    }
}

/// Code-point range in a transcript that gave rise to a coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A code applied to one segment, with the evidence for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coding {
    pub transcript: String,
    pub turn: u32,
    pub code: String,
    /// The stage that made the coding (its name in `thematic.toml`).
    pub stage: String,
    /// The strategy the stage ran (`dictionary`, `regex`, ...).
    pub strategy: String,
    pub spans: Vec<Span>,
    pub confidence: Option<f64>,
    pub memo: Option<String>,
}

/// A candidate theme proposed by a grouping strategy (phase 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateTheme {
    pub id: String,
    pub name: String,
    pub codes: Vec<String>,
    pub subthemes: Vec<CandidateTheme>,
}

impl CandidateTheme {
    /// Its own codes and those of its sub-themes, without repeats.
    pub fn all_codes(&self) -> BTreeSet<&str> {
        let mut codes: BTreeSet<&str> = self.codes.iter().map(String::as_str).collect();
        for sub in &self.subthemes {
            codes.extend(sub.all_codes());
        }
        codes
    }
}

/// A theme after review across the data (phase 4) with its extracts (phase 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewedTheme {
    pub id: String,
    pub name: String,
    pub codes: Vec<String>,
    /// Participants with at least one segment carrying one of the theme's codes.
    pub covered: BTreeSet<String>,
    /// Segments carried by the theme, per participant.
    pub segments_per_participant: BTreeMap<String, usize>,
    /// Why the review discarded the theme, or `None` if it was kept.
    pub discarded: Option<String>,
    pub extracts: Vec<Extract>,
    pub subthemes: Vec<ReviewedTheme>,
}

/// A segment quoted in support of a theme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extract {
    pub transcript: String,
    pub turn: u32,
    pub participant: Option<String>,
    pub codes: Vec<String>,
    /// What was said, without the speaker label.
    pub text: String,
    /// Why automatic codes are on it, where a stage says: a stage coding by
    /// meaning gives the code's score and the researcher's examples nearest
    /// to it (`meaning: absent-support 0.82; nearest examples: …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
}

/// A discussion area grouping kept themes (the report's structure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    pub id: String,
    pub name: String,
    pub themes: Vec<String>,
}

/// How many segments of each document carry each code. Code names are
/// borrowed from whatever holds them (the digests, a matcher): a study's
/// matrix has a cell per document and code, too many to copy each pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CodeDocumentMatrix<'a> {
    /// Document name (file stem) to its row: (code, number of coded
    /// segments) in code order, written as a map; codes with no coded
    /// segment are left out.
    #[serde(serialize_with = "rows_as_maps")]
    pub coded_segments: BTreeMap<String, Vec<(&'a str, usize)>>,
    /// All segments looked at, coded or not.
    pub segments: usize,
}

fn rows_as_maps<S: serde::Serializer>(
    rows: &BTreeMap<String, Vec<(&str, usize)>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(rows.iter().map(|(document, row)| (document, RowAsMap(row))))
}

/// A matrix row, (code, count) pairs, serialised as a map from code to count.
struct RowAsMap<'r, 'a>(&'r [(&'a str, usize)]);

impl Serialize for RowAsMap<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(code, n)| (code, n)))
    }
}

/// A research question put to the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub id: String,
    pub text: String,
}

/// A code as its codebook describes it: the one type for a code wherever it
/// goes (a study's codebooks, the analysis and its reports, REFI-QDA
/// codebooks and projects, a TOML codebook written by an import).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The code this one sits under in the codebook's hierarchy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Ids of the research questions this code bears on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<String>,
    /// Dictionary terms or regular expressions, as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<Term>,
    /// Sentences that are the code, for strategies that code by meaning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Sentences that are not the code, though they may sound like it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counter_examples: Vec<String>,
}

/// A dictionary term or regular expression, with the line of its codebook
/// it was written on (0 where it came from elsewhere); written as its text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct Term {
    pub text: String,
    pub line: u64,
}

impl From<String> for Term {
    fn from(text: String) -> Term {
        Term { text, line: 0 }
    }
}

impl From<&str> for Term {
    fn from(text: &str) -> Term {
        Term::from(text.to_string())
    }
}

impl From<Term> for String {
    fn from(term: Term) -> String {
        term.text
    }
}

/// What one decision of two coders is about: a segment, or a character of one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    #[default]
    Segment,
    Character,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Segment => "segment",
            Unit::Character => "character",
        }
    }
}

/// The statistics of two coders' decisions on a code. Kappa and alpha are
/// `None` where they are undefined: when every decision of both coders is
/// the same, chance agreement is complete and there is nothing to correct for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub units: u64,
    pub percent: f64,
    pub kappa: Option<f64>,
    pub alpha: Option<f64>,
}

/// How far two coders (coding stages) agreed, code by code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoderAgreement {
    pub first: String,
    pub second: String,
    pub unit: Unit,
    /// Transcripts both coders decided on (a person, those they coded).
    pub transcripts: usize,
    /// Per code in name order, `None` where no unit was decided.
    pub codes: Vec<(String, Option<Agreement>)>,
    /// The codes both coders may apply, pooled.
    pub pooled: Option<Agreement>,
}

/// How far a stage that learnt its codes from a person's codings agrees with
/// that person, measured by cross-validation across transcripts: each
/// transcript's sentences are coded by what was learnt from the others only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearntAgreement {
    /// The stage that learnt.
    pub stage: String,
    /// The coding stage it learnt from.
    pub from: String,
    /// Transcripts the person decided on.
    pub transcripts: usize,
    /// How many parts the transcripts were split into; 0 where there were
    /// too few transcripts to hold any out.
    pub folds: usize,
    /// The examples a code needs to be learnt.
    pub min_examples: usize,
    /// Per code in codebook order.
    pub codes: Vec<LearntCode>,
}

/// One code as a stage learnt it from a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearntCode {
    pub code: String,
    /// The person's sentences carrying the code.
    pub examples: usize,
    /// Whether there were enough examples to learn the code from; a code
    /// with fewer is not coded by the stage.
    pub learnt: bool,
    /// Sentence-level agreement with the person on transcripts held out.
    pub agreement: Option<Agreement>,
    /// Of the sentences coded on held-out transcripts, the share the person coded too.
    pub precision: Option<f64>,
    /// Of the person's sentences on held-out transcripts, the share coded.
    pub recall: Option<f64>,
}

/// Everything one run found, from which every report is rendered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub study: String,
    pub questions: Vec<Question>,
    /// The codes of the codebooks the coding stages use, in codebook order.
    pub codes: Vec<Code>,
    pub participants: Vec<Participant>,
    /// Sorted by id.
    pub transcripts: Vec<TranscriptDigest>,
    pub themes: Vec<ReviewedTheme>,
    pub areas: Vec<Area>,
    /// The review rule themes were held to.
    pub min_participants: usize,
    /// The pairs of coders `[[agreement]]` asks about.
    #[serde(default)]
    pub agreements: Vec<CoderAgreement>,
    /// Stages that learnt from a person: how far they agree with that person.
    #[serde(default)]
    pub learnt: Vec<LearntAgreement>,
    /// The study's memos (`memos/`), by file.
    #[serde(default)]
    pub memos: Vec<Memo>,
    pub warnings: Vec<String>,
}

impl Analysis {
    /// Participant ids in the order the report lists them: the participants
    /// file's order, then any participant known only from a transcript.
    pub fn participant_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.participants.iter().map(|p| p.id.as_str()).collect();
        let mut seen: std::collections::HashSet<&str> = ids.iter().copied().collect();
        for id in self.transcripts.iter().flat_map(|t| &t.speakers) {
            if seen.insert(id) {
                ids.push(id);
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_become_code_point_spans_of_the_transcript() {
        let segment = Segment {
            turn: 1,
            speaker: None,
            role: PARTICIPANT_ROLE.into(),
            participant: None,
            start: 100,
            end: 106,
            text: "Ça va!".into(),
            start_ms: None,
            end_ms: None,
        };
        assert_eq!(
            segment.span_of_bytes(0, 2),
            Some(Span { start: 100, end: 101 }),
            "Ç is two bytes, one character"
        );
        assert_eq!(segment.span_of_bytes(3, 7), Some(Span { start: 102, end: 106 }));
        assert_eq!(segment.span_of_bytes(1, 3), None, "inside Ç");
        assert_eq!(segment.span_of_bytes(3, 3), None, "empty");
        assert_eq!(segment.span_of_bytes(3, 8), None, "past the end");
    }

    #[test]
    fn a_turn_is_found_whether_or_not_the_turns_are_numbered_one_by_one() {
        let digest = |turns: Vec<(u32, Option<u32>)>| TranscriptDigest {
            turns,
            speakers: vec!["P1".into()],
            ..TranscriptDigest::default()
        };
        let in_order = digest(vec![(1, None), (2, Some(0)), (3, None)]);
        assert_eq!(in_order.speaker_of(2), Some("P1"));
        assert_eq!([in_order.speaker_number(3), in_order.speaker_number(4)], [None, None]);
        let with_gaps = digest(vec![(2, Some(0)), (5, None), (7, Some(0))]);
        assert_eq!(with_gaps.speaker_number(7), Some(0));
        assert_eq!(with_gaps.speaker_number(2), Some(0));
        for absent in [0, 1, 3, 5, 8] {
            assert_eq!(with_gaps.speaker_number(absent), None, "turn {absent}");
        }
    }

    fn assert_counted_as_split_whitespace(text: &str) {
        let segment = Segment {
            turn: 1,
            speaker: Some("P1".into()),
            role: "participant".into(),
            participant: Some("P1".into()),
            start: 0,
            end: text.chars().count(),
            text: text.into(),
            start_ms: None,
            end_ms: None,
        };
        assert_eq!(
            segment.word_count(),
            segment.content().split_whitespace().count(),
            "{text:?}"
        );
    }

    #[test]
    fn words_in_mixed_text_are_counted_as_split_whitespace_counts_them() {
        let pieces = [
            "a",
            "word",
            " ",
            "\t",
            "\n",
            "\x0b",
            "\u{a0}",
            "\u{2003}",
            "’",
            "–",
            "é",
            "\u{1f600}",
            "\x1c",
        ];
        let mut state: u64 = 7;
        for _ in 0..5000 {
            let mut text = String::from("P1: ");
            for _ in 0..(state % 12) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            assert_counted_as_split_whitespace(&text);
        }
    }

    #[test]
    fn words_are_counted_as_split_whitespace_counts_them() {
        for text in [
            "P1: two words",
            "P1:   spaced\tout\x0bby\x0cevery\r\nkind ",
            "P1: non\u{a0}breaking\u{2003}em\u{3000}ideographic café",
            "P1:",
            "",
        ] {
            assert_counted_as_split_whitespace(text);
        }
    }
}
