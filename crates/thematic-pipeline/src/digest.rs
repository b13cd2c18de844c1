//! A transcript and its codings boiled down to what the review and the
//! reports count, so that a run need not hold every transcript's text and
//! every coding of a large study.

use std::collections::HashMap;

use thematic_model::{Coding, Transcript, TranscriptDigest, PARTICIPANT_ROLE};

/// The digest of `transcript` with `codings`, its codings by every stage
/// (codings of other transcripts are not expected here).
pub fn digest(transcript: &Transcript, codings: &[Coding]) -> TranscriptDigest {
    let mut digest = TranscriptDigest {
        id: transcript.id.clone(),
        participant: transcript.participant.clone(),
        content_hash: transcript.content_hash.clone(),
        codings: codings.len(),
        ..TranscriptDigest::default()
    };
    let mut speakers: HashMap<&str, u32> = HashMap::new();
    for segment in &transcript.segments {
        let said = segment.word_count();
        digest.words += said;
        if segment.role == PARTICIPANT_ROLE {
            digest.participant_words += said;
        }
        let speaker = segment.participant.as_deref().map(|participant| {
            let next = speakers.len() as u32;
            let number = *speakers.entry(participant).or_insert(next);
            if number == next {
                digest.speakers.push(participant.to_string());
            }
            number
        });
        digest.turns.push((segment.turn, speaker));
    }
    // Codes are numbered in name order, so that the pairs sorted by number
    // come out in the order the reports list codes.
    let mut names: Vec<&str> = codings.iter().map(|c| c.code.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let numbers: HashMap<&str, u32> = names.iter().zip(0..).map(|(&name, n)| (name, n)).collect();
    digest.codes = names.iter().map(|name| name.to_string()).collect();
    digest.coded = codings.iter().map(|c| (numbers[c.code.as_str()], c.turn)).collect();
    digest.coded.sort_unstable();
    digest.coded.dedup();
    digest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::coding;
    use crate::{transcript_from_text, RoleMap};

    #[test]
    fn a_digest_counts_words_names_speakers_and_keeps_each_code_on_a_turn_once() {
        let roles = RoleMap::new(&[("Interviewer".to_string(), "interviewer".to_string())].into());
        let text = "Interviewer: how was it\nP: fine, mostly fine\nInterviewer: and then\nP: worse\n";
        let (transcript, _) = transcript_from_text("a.txt", text, "h", Some("P7"), &roles);
        let mut second_stage = coding("a.txt", 2, "calm");
        second_stage.stage = "other".into();
        let codings = [coding("a.txt", 4, "worry"), coding("a.txt", 2, "calm"), second_stage];
        let digest = digest(&transcript, &codings);
        assert_eq!((digest.words, digest.participant_words), (9, 4));
        assert_eq!(digest.turns, [(1, None), (2, Some(0)), (3, None), (4, Some(0))]);
        assert_eq!(digest.speakers, ["P7"]);
        assert_eq!(digest.speaker_of(4), Some("P7"));
        assert_eq!(digest.speaker_of(3), None);
        assert_eq!(digest.codings, 3);
        assert_eq!(
            digest.coded_turns().collect::<Vec<_>>(),
            [("calm", 2), ("worry", 4)],
            "two stages' `calm` on turn 2 counts once"
        );
    }
}
