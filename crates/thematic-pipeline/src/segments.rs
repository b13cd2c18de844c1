use std::collections::BTreeMap;

use thematic_config::SpeakerAs;
use thematic_formats::{text_of_turns, TimedTurn};
use thematic_model::{Segment, Transcript, PARTICIPANT_ROLE};
use thematic_text::{split_turns, Turn};

/// The role of text before the first speaker label, when there are labels.
pub const PREAMBLE_ROLE: &str = "preamble";

/// Speaker label to role, matched without regard to case; unlisted labels
/// are participants. In a transcript with a speaker map (a focus group),
/// labels may also name the participant who speaks.
#[derive(Debug, Clone, Default)]
pub struct RoleMap {
    roles: BTreeMap<String, String>,
    participants: BTreeMap<String, String>,
    /// Whether this transcript's speakers are mapped one by one: then a
    /// label mapped to no one speaks for no participant.
    mapped: bool,
}

impl RoleMap {
    pub fn new(roles: &BTreeMap<String, String>) -> RoleMap {
        RoleMap {
            roles: roles
                .iter()
                .map(|(label, role)| (label.to_lowercase(), role.clone()))
                .collect(),
            ..RoleMap::default()
        }
    }

    /// This map with one transcript's speakers: label to participant or role.
    pub fn with_speakers(&self, speakers: &BTreeMap<String, SpeakerAs>) -> RoleMap {
        let mut map = self.clone();
        map.mapped = true;
        for (label, speaker) in speakers {
            let label = label.to_lowercase();
            match speaker {
                SpeakerAs::Participant(id) => {
                    map.roles.remove(&label);
                    map.participants.insert(label, id.clone());
                }
                SpeakerAs::Role { role } => {
                    map.roles.insert(label, role.clone());
                }
            }
        }
        map
    }

    pub fn role_of(&self, label: &str) -> &str {
        self.roles
            .get(&label.to_lowercase())
            .map_or(PARTICIPANT_ROLE, String::as_str)
    }

    /// Who speaks a participant's turn under `label`: the mapped participant,
    /// else the transcript's own (none when speakers are mapped one by one).
    fn participant_of(&self, label: Option<&str>, transcript: Option<&str>) -> Option<String> {
        match label.and_then(|label| self.participants.get(&label.to_lowercase())) {
            Some(id) => Some(id.clone()),
            None if self.mapped => None,
            None => transcript.map(str::to_string),
        }
    }
}

/// What a researcher should hear about how a transcript split into turns:
/// nothing in it, or no speaker labels at all.
pub fn segmentation_warning(id: &str, turns: &[Turn]) -> Option<String> {
    if turns.is_empty() {
        Some(format!("{id}: empty transcript, nothing to code"))
    } else if turns.iter().all(|t| t.label.is_none()) {
        Some(format!(
            "{id}: no speaker labels (`Name: ` at a line start); the whole text is one segment"
        ))
    } else {
        None
    }
}

/// Splits a transcript's text into segments with speakers, roles and
/// code-point offsets. Turns in the participant role are attributed to
/// `participant`. Returns warnings for transcripts that are empty or have no
/// speaker labels.
pub fn transcript_from_text(
    id: &str,
    text: &str,
    content_hash: &str,
    participant: Option<&str>,
    roles: &RoleMap,
) -> (Transcript, Vec<String>) {
    let turns = split_turns(text);
    let warnings: Vec<String> = segmentation_warning(id, &turns).into_iter().collect();
    let times = vec![(None, None); turns.len()];
    let transcript = transcript_of(id, text, &turns, &times, content_hash, participant, roles);
    (transcript, warnings)
}

/// Segments for turns a file marked itself, keeping their times. Their
/// text is [`thematic_formats::text_of_turns`]; `content_hash` is given it to hash.
pub fn transcript_from_turns(
    id: &str,
    timed: &[TimedTurn],
    content_hash: impl FnOnce(&str) -> String,
    participant: Option<&str>,
    roles: &RoleMap,
) -> (Transcript, Vec<String>) {
    let text = text_of_turns(timed);
    let content_hash = content_hash(&text);
    let mut turns = Vec::with_capacity(timed.len());
    let mut at = 0;
    for turn in timed {
        let label = turn.speaker.as_ref().map(|speaker| at..at + speaker.len());
        let length = turn.speaker.as_ref().map_or(0, |speaker| speaker.len() + 2) + turn.text.len();
        turns.push(Turn {
            label,
            range: at..at + length,
        });
        at += length + 2;
    }
    let warnings: Vec<String> = segmentation_warning(id, &turns).into_iter().collect();
    let times: Vec<(Option<u64>, Option<u64>)> = timed.iter().map(|t| (t.start_ms, t.end_ms)).collect();
    let transcript = transcript_of(id, &text, &turns, &times, &content_hash, participant, roles);
    (transcript, warnings)
}

fn transcript_of(
    id: &str,
    text: &str,
    turns: &[Turn],
    times: &[(Option<u64>, Option<u64>)],
    content_hash: &str,
    participant: Option<&str>,
    roles: &RoleMap,
) -> Transcript {
    let labelled = turns.iter().any(|t| t.label.is_some());
    let mut segments = Vec::with_capacity(turns.len());
    let (mut byte, mut chars) = (0, 0);
    let mut advance = |to: usize| {
        chars += text[byte..to].chars().count();
        byte = to;
        chars
    };
    for (index, (turn, &(start_ms, end_ms))) in turns.iter().zip(times).enumerate() {
        let start = advance(turn.range.start);
        let end = advance(turn.range.end);
        let speaker = turn.label.clone().map(|l| text[l].to_string());
        let role = match &speaker {
            Some(label) => roles.role_of(label),
            None if labelled => PREAMBLE_ROLE,
            None => PARTICIPANT_ROLE,
        }
        .to_string();
        segments.push(Segment {
            turn: index as u32 + 1,
            participant: (role == PARTICIPANT_ROLE)
                .then(|| roles.participant_of(speaker.as_deref(), participant))
                .flatten(),
            speaker,
            role,
            start,
            end,
            text: text[turn.range.clone()].to_string(),
            start_ms,
            end_ms,
        });
    }
    Transcript {
        id: id.to_string(),
        participant: participant.map(str::to_string),
        content_hash: content_hash.to_string(),
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> RoleMap {
        RoleMap::new(&BTreeMap::from([(
            "Interviewer".to_string(),
            "interviewer".to_string(),
        )]))
    }

    #[test]
    fn segments_carry_roles_participants_and_code_point_offsets() {
        let text = "Notes: about\nInterviewer: Ça va?\nP1: Très bien.\n\nMerci.";
        let (transcript, warnings) = transcript_from_text("t/P1.txt", text, "h", Some("P1"), &roles());
        assert!(warnings.is_empty());
        let s = &transcript.segments;
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].role.as_str(), s[0].participant.as_deref()),
            ("participant", Some("P1")),
            "Notes is a label"
        );
        assert_eq!(
            (s[1].turn, s[1].speaker.as_deref(), s[1].role.as_str()),
            (2, Some("Interviewer"), "interviewer")
        );
        assert_eq!(s[1].participant, None);
        assert_eq!((s[2].start, s[2].end), (33, 55));
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(chars[s[2].start..s[2].end].iter().collect::<String>(), s[2].text);
        assert_eq!(s[2].text, "P1: Très bien.\n\nMerci.");
    }

    #[test]
    fn roles_match_labels_without_regard_to_case() {
        let (transcript, _) = transcript_from_text("a", "INTERVIEWER: hi\nP2: yes", "h", Some("P2"), &roles());
        assert_eq!(transcript.segments[0].role, "interviewer");
    }

    #[test]
    fn text_before_the_first_label_is_a_preamble() {
        let (transcript, _) = transcript_from_text("a", "Recorded 3 May\nP2: yes", "h", Some("P2"), &roles());
        assert_eq!(transcript.segments[0].role, PREAMBLE_ROLE);
        assert_eq!(transcript.segments[0].participant, None);
    }

    #[test]
    fn unlabelled_and_empty_transcripts_warn() {
        let (transcript, warnings) = transcript_from_text("a.txt", "just words", "h", Some("P3"), &roles());
        assert_eq!(transcript.segments.len(), 1);
        assert_eq!(transcript.segments[0].participant.as_deref(), Some("P3"));
        assert!(warnings[0].contains("a.txt: no speaker labels"), "{warnings:?}");
        let (transcript, warnings) = transcript_from_text("b.txt", " \n", "h", None, &roles());
        assert!(transcript.segments.is_empty());
        assert!(warnings[0].contains("b.txt: empty transcript"), "{warnings:?}");
    }
}
