use std::collections::{BTreeMap, BTreeSet, HashMap};

use thematic_model::{CodeDocumentMatrix, TranscriptDigest};

/// How one code was applied across the study.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeSummary {
    /// Segments carrying the code.
    pub segments: usize,
    /// Participants with at least one such segment.
    pub participants: BTreeSet<String>,
}

/// Two codes on the same segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cooccurrence {
    /// Segments carrying both codes.
    pub segments: usize,
    /// Participants with at least one such segment.
    pub participants: BTreeSet<String>,
}

/// A segment carrying a code, with what was said in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CodedText {
    pub transcript: String,
    pub turn: u32,
    /// The participant who speaks the turn, if any.
    pub participant: Option<String>,
    pub text: String,
}

/// What a theme-grouping strategy sees of the coding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodingSummary {
    pub codes: BTreeMap<String, CodeSummary>,
    /// For each pair of codes `(a, b)` with `a < b`, where both are on one
    /// segment; empty where the grouper does not read it.
    pub cooccurrence: BTreeMap<(String, String), Cooccurrence>,
    /// Each code's segments with their words, in transcript and turn order;
    /// empty where the grouper does not read them (see [`CodingSummary::with_texts`]).
    pub texts: BTreeMap<String, Vec<CodedText>>,
}

/// What of the coding a theme grouper reads, so that no more is counted:
/// pairs of codes cost far more than codes alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SummaryNeeds {
    /// Nothing: the grouper's themes are given (`defined`).
    Nothing,
    /// Each code's segments and participants.
    Codes,
    /// The codes and the pairs of codes on one segment.
    Cooccurrence,
}

/// Segments and participants counted under numbers (codes and participants
/// numbered as first met), named only once counting is done.
#[derive(Default)]
struct Counts {
    segments: usize,
    /// Participant numbers, the last one met last (each transcript's come together).
    participants: Vec<u32>,
}

impl Counts {
    fn add(&mut self, participant: Option<u32>) {
        self.segments += 1;
        if let Some(participant) = participant {
            if self.participants.last() != Some(&participant) {
                self.participants.push(participant);
            }
        }
    }

    /// The participants' names, each once.
    fn named(&self, names: &[&str]) -> BTreeSet<String> {
        self.participants
            .iter()
            .map(|&p| names[p as usize].to_string())
            .collect()
    }
}

impl CodingSummary {
    /// What a grouper that `needs` so much sees of `transcripts`.
    pub fn new(transcripts: &[TranscriptDigest], needs: SummaryNeeds) -> CodingSummary {
        if needs == SummaryNeeds::Nothing {
            return CodingSummary::default();
        }
        let with_pairs = needs == SummaryNeeds::Cooccurrence;
        let mut codes: Vec<&str> = Vec::new();
        let mut code_numbers: HashMap<&str, u32> = HashMap::new();
        let mut people: Vec<&str> = Vec::new();
        let mut person_numbers: HashMap<&str, u32> = HashMap::new();
        let mut per_code: Vec<Counts> = Vec::new();
        let mut per_pair: HashMap<(u32, u32), Counts> = HashMap::new();
        let mut by_turn: Vec<(u32, u32)> = Vec::new();
        for transcript in transcripts {
            // This transcript's code and speaker numbers, as study-wide ones.
            let global_codes: Vec<u32> = transcript
                .codes
                .iter()
                .map(|code| {
                    *code_numbers.entry(code).or_insert_with(|| {
                        codes.push(code);
                        per_code.push(Counts::default());
                        codes.len() as u32 - 1
                    })
                })
                .collect();
            let global_people: Vec<u32> = transcript
                .speakers
                .iter()
                .map(|person| {
                    *person_numbers.entry(person).or_insert_with(|| {
                        people.push(person);
                        people.len() as u32 - 1
                    })
                })
                .collect();
            by_turn.clear();
            by_turn.extend(
                transcript
                    .coded
                    .iter()
                    .map(|&(code, turn)| (turn, global_codes[code as usize])),
            );
            by_turn.sort_unstable();
            for on_turn in by_turn.chunk_by(|a, b| a.0 == b.0) {
                let participant = transcript
                    .speaker_number(on_turn[0].0)
                    .map(|s| global_people[s as usize]);
                for (i, &(_, a)) in on_turn.iter().enumerate() {
                    per_code[a as usize].add(participant);
                    if with_pairs {
                        for &(_, b) in &on_turn[i + 1..] {
                            per_pair.entry((a.min(b), a.max(b))).or_default().add(participant);
                        }
                    }
                }
            }
        }
        CodingSummary {
            codes: codes
                .iter()
                .zip(&per_code)
                .map(|(code, counts)| {
                    let summary = CodeSummary {
                        segments: counts.segments,
                        participants: counts.named(&people),
                    };
                    (code.to_string(), summary)
                })
                .collect(),
            cooccurrence: per_pair
                .iter()
                .map(|(&(a, b), counts)| {
                    let (a, b) = (codes[a as usize], codes[b as usize]);
                    let pair = Cooccurrence {
                        segments: counts.segments,
                        participants: counts.named(&people),
                    };
                    ((a.min(b).to_string(), a.max(b).to_string()), pair)
                })
                .collect(),
            texts: BTreeMap::new(),
        }
    }

    /// This summary with each code's segments and their words, found by
    /// `said(transcript, turn)`; a turn whose words are lost (empty) is left out.
    pub fn with_texts(
        mut self,
        transcripts: &[TranscriptDigest],
        said: &mut dyn FnMut(&str, u32) -> String,
    ) -> CodingSummary {
        for transcript in transcripts {
            // A turn with several codes is read once.
            let mut words: HashMap<u32, String> = HashMap::new();
            for &(code, turn) in &transcript.coded {
                let text = words.entry(turn).or_insert_with(|| said(&transcript.id, turn));
                if text.is_empty() {
                    continue;
                }
                self.texts
                    .entry(transcript.codes[code as usize].clone())
                    .or_default()
                    .push(CodedText {
                        transcript: transcript.id.clone(),
                        turn,
                        participant: transcript.speaker_of(turn).map(str::to_string),
                        text: text.clone(),
                    });
            }
        }
        self
    }
}

/// Segments per document carrying each code (any stage), documents named by
/// their file name without extension, or by their whole path (without
/// extension) where two transcripts in different folders share a name.
pub fn code_document_matrix(transcripts: &[TranscriptDigest]) -> CodeDocumentMatrix<'_> {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for transcript in transcripts {
        *names.entry(document_name(&transcript.id)).or_default() += 1;
    }
    let name_of = |id: &str| {
        let name = document_name(id);
        if names[&name] > 1 {
            id.rsplit_once('.').map_or(id, |(path, _)| path).to_string()
        } else {
            name
        }
    };
    let mut matrix = CodeDocumentMatrix::default();
    for transcript in transcripts {
        matrix.segments += transcript.turns.len();
        let row = transcript
            .coded
            .chunk_by(|a, b| a.0 == b.0)
            .map(|turns| (transcript.codes[turns[0].0 as usize].as_str(), turns.len()))
            .collect();
        matrix.coded_segments.insert(name_of(&transcript.id), row);
    }
    matrix
}

/// A transcript's file name without folder and extension.
pub fn document_name(id: &str) -> String {
    let file = id.rsplit('/').next().unwrap_or(id);
    match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_string(),
        _ => file.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest;
    use crate::test_support::coding;

    fn transcript(id: &str) -> TranscriptDigest {
        TranscriptDigest {
            id: id.into(),
            ..TranscriptDigest::default()
        }
    }

    #[test]
    fn the_summary_counts_segments_participants_and_co_occurrence() {
        let roles = crate::RoleMap::default();
        let (t, _) = crate::transcript_from_text("a.txt", "P1: one\nP1: two\n", "h", Some("P1"), &roles);
        let codings = [
            coding("a.txt", 1, "anger"),
            coding("a.txt", 1, "trust"),
            coding("a.txt", 2, "anger"),
        ];
        let summary = CodingSummary::new(&[digest(&t, &codings)], SummaryNeeds::Cooccurrence);
        assert_eq!(summary.codes["anger"].segments, 2);
        assert_eq!(summary.codes["trust"].participants.iter().collect::<Vec<_>>(), ["P1"]);
        assert_eq!(
            summary.cooccurrence,
            BTreeMap::from([(
                ("anger".to_string(), "trust".to_string()),
                Cooccurrence {
                    segments: 1,
                    participants: BTreeSet::from(["P1".to_string()])
                }
            )])
        );
    }

    #[test]
    fn each_code_gets_its_segments_words_each_turn_read_once_and_lost_turns_left_out() {
        let roles = crate::RoleMap::default();
        let (t, _) = crate::transcript_from_text("a.txt", "P1: one\nP1: two\nP1: three\n", "h", Some("P1"), &roles);
        let codings = [
            coding("a.txt", 1, "anger"),
            coding("a.txt", 1, "trust"),
            coding("a.txt", 2, "anger"),
            coding("a.txt", 3, "trust"),
        ];
        let mut reads = Vec::new();
        let summary = CodingSummary::new(&[digest(&t, &codings)], SummaryNeeds::Codes).with_texts(
            &[digest(&t, &codings)],
            &mut |id, turn| {
                reads.push(turn);
                if turn == 3 {
                    String::new()
                } else {
                    format!("{id} turn {turn}")
                }
            },
        );
        reads.sort_unstable();
        assert_eq!(reads, [1, 2, 3], "turn 1 carries two codes and is read once");
        let texts = |code: &str| -> Vec<(u32, String)> {
            summary.texts[code].iter().map(|t| (t.turn, t.text.clone())).collect()
        };
        assert_eq!(
            texts("anger"),
            [(1, "a.txt turn 1".to_string()), (2, "a.txt turn 2".to_string())]
        );
        assert_eq!(
            texts("trust"),
            [(1, "a.txt turn 1".to_string())],
            "turn 3's words are lost"
        );
        assert_eq!(summary.texts["trust"][0].participant.as_deref(), Some("P1"));
    }

    /// The summary as first written: every segment's codes and pairs looked
    /// up by name, as the numbered counting must agree with.
    fn by_names(transcripts: &[TranscriptDigest]) -> CodingSummary {
        let mut summary = CodingSummary::default();
        for transcript in transcripts {
            let mut by_turn: Vec<(u32, &str)> = transcript.coded_turns().map(|(code, turn)| (turn, code)).collect();
            by_turn.sort_unstable();
            for on_turn in by_turn.chunk_by(|a, b| a.0 == b.0) {
                let participant = transcript.speaker_of(on_turn[0].0);
                for (i, &(_, a)) in on_turn.iter().enumerate() {
                    let entry = summary.codes.entry(a.to_string()).or_default();
                    entry.segments += 1;
                    entry.participants.extend(participant.map(str::to_string));
                    for &(_, b) in &on_turn[i + 1..] {
                        let pair = summary.cooccurrence.entry((a.to_string(), b.to_string())).or_default();
                        pair.segments += 1;
                        pair.participants.extend(participant.map(str::to_string));
                    }
                }
            }
        }
        summary
    }

    #[test]
    fn numbered_counting_agrees_with_counting_by_name_and_counts_only_what_is_needed() {
        let roles = crate::RoleMap::default();
        let group = roles.with_speakers(&std::collections::BTreeMap::from([
            ("Ann".to_string(), thematic_config::SpeakerAs::Participant("P9".into())),
            ("Bo".to_string(), thematic_config::SpeakerAs::Participant("P3".into())),
        ]));
        let codes = ["anger", "trust", "blame", "zeal"];
        let mut digests = Vec::new();
        for (n, (id, text, roles)) in [
            ("a.txt", "P1: one\nP1: two\nP1: three\n", &roles),
            ("b.txt", "P2: one\nP2: two\n", &roles),
            ("fg.txt", "Ann: one\nBo: two\nAnn: three\nBo: four\n", &group),
        ]
        .into_iter()
        .enumerate()
        {
            let participant = (n < 2).then(|| format!("P{}", n + 1));
            let (t, _) = crate::transcript_from_text(id, text, "h", participant.as_deref(), roles);
            // A different mix of codes on each turn, some turns with none.
            let codings: Vec<_> = (1..=t.segments.len() as u32)
                .flat_map(|turn| {
                    codes
                        .iter()
                        .enumerate()
                        .filter(move |(c, _)| !(turn as usize * 7 + c * 3 + n).is_multiple_of(4))
                        .map(move |(_, code)| coding(id, turn, code))
                })
                .collect();
            digests.push(digest(&t, &codings));
        }
        let expected = by_names(&digests);
        assert!(expected.cooccurrence.len() > 3 && expected.codes["zeal"].participants.len() > 2);
        assert_eq!(CodingSummary::new(&digests, SummaryNeeds::Cooccurrence), expected);
        let codes_only = CodingSummary::new(&digests, SummaryNeeds::Codes);
        assert_eq!((&codes_only.codes, codes_only.cooccurrence.len()), (&expected.codes, 0));
        assert_eq!(
            CodingSummary::new(&digests, SummaryNeeds::Nothing),
            CodingSummary::default()
        );
    }

    #[test]
    fn documents_sharing_a_file_name_keep_their_folders() {
        let transcripts = [
            transcript("t/a/P1.txt"),
            transcript("t/b/P1.txt"),
            transcript("t/P2.md"),
        ];
        let matrix = code_document_matrix(&transcripts);
        let names: Vec<&str> = matrix.coded_segments.keys().map(String::as_str).collect();
        assert_eq!(names, ["P2", "t/a/P1", "t/b/P1"]);
    }
}
